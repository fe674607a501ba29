import { readdirSync } from 'node:fs';
import path from 'node:path';
import {
  CONFIG_SCHEMAS,
  composeValidator,
  configVariables,
  envFile,
  interpolate,
  k8sManifests,
  parseYamlDocuments,
  readText,
  ROOT,
  RUNTIME_VARIABLES,
  SERVICES,
  type Service,
} from './support.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- the compose file is checked field by field below */
type Any = any;

const envExample = envFile(readText('.env.example'));
const raw = parseYamlDocuments(readText('docker-compose.yml'), 'docker-compose.yml')[0] as Any;
/** The compose file as `docker compose` sees it with `.env` copied from `.env.example`. */
const compose = interpolate(raw, envExample.set) as Any;

/** The Dockerfile's stages: `FROM <image> AS <name>`, with the instructions of each. */
function dockerStages(): Array<{ name: string; from: string; lines: string[] }> {
  const stages: Array<{ name: string; from: string; lines: string[] }> = [];
  const text = readText('Dockerfile').replace(/\\\n/g, ' ');
  for (const line of text.split('\n').map((l) => l.trim())) {
    if (!line || line.startsWith('#')) continue;
    const from = /^FROM\s+(\S+)(?:\s+AS\s+(\S+))?/i.exec(line);
    if (from) stages.push({ from: from[1]!, name: from[2] ?? '', lines: [] });
    else stages.at(-1)?.lines.push(line);
  }
  return stages;
}

describe('docker-compose.yml', () => {
  const validate = composeValidator();

  it('validates against the Compose specification schema', () => {
    const valid = validate(compose);
    expect(validate.errors ?? []).toEqual([]);
    expect(valid).toBe(true);
  });

  it('would notice an unknown key and a malformed port (the check above can fail)', () => {
    const typo = structuredClone(compose);
    typo.services.gateway.healthchek = typo.services.gateway.healthcheck;
    expect(validate(typo)).toBe(false);
    const port = structuredClone(compose);
    port.services.gateway.ports = ['3000:abc'];
    expect(validate(port)).toBe(false);
  });

  it('runs Postgres with pgvector, NATS with JetStream and monitoring, and a migration step before the services', () => {
    expect(compose.services.postgres.image).toMatch(/^pgvector\/pgvector:/);
    const nats = compose.services.nats;
    expect(nats.image).toMatch(/^nats:/);
    expect(nats.command).toEqual(expect.arrayContaining(['--jetstream', '--http_port', '8222']));
    expect(nats.ports).toContainEqual(expect.stringMatching(/:8222$/));
    expect((nats.healthcheck.test as string[]).join(' ')).toMatch(/8222\/healthz\?js-enabled-only=true/);
    expect(compose.services.migrate.build).toEqual({ context: '.', target: 'migrate' });
    expect(compose.services.migrate.depends_on).toEqual({ postgres: { condition: 'service_healthy' } });
    expect(compose.services.migrate.environment.DATABASE_URL).toMatch(/@postgres:5432\/vibe$/);
    expect(Object.keys(compose.services).sort()).toEqual([...SERVICES, 'migrate', 'nats', 'postgres'].sort());
  });

  describe.each(SERVICES)('%s', (service: Service) => {
    const svc = compose.services[service];

    it('is built from the Dockerfile target of its name and started after the migrations and NATS', () => {
      expect(svc.build).toEqual({ context: '.', target: service });
      expect(svc.image).toBe(`vibe-architect/${service}:local`);
      expect(svc.depends_on).toEqual({
        migrate: { condition: 'service_completed_successfully' },
        nats: { condition: 'service_healthy' },
      });
    });

    it('runs as a non-root user, read-only, without capabilities, with a health check on /health', () => {
      expect(svc.user).toBe('node');
      expect(svc.read_only).toBe(true);
      expect(svc.cap_drop).toEqual(['ALL']);
      expect((svc.healthcheck.test as string[]).join(' ')).toMatch(/\/health'/);
    });

    it('sets only variables the service reads, valid for it, pointing at the compose network', () => {
      const env = svc.environment as Record<string, string | number | null>;
      const known = new Set(configVariables(service));
      expect(Object.keys(env).filter((name) => !known.has(name) && !RUNTIME_VARIABLES.has(name))).toEqual([]);
      expect(env.DATABASE_URL).toMatch(/@postgres:5432\/vibe$/);
      expect(env.NATS_URL).toBe('nats://nats:4222');
      expect(env.HOST).toBe('0.0.0.0');
      // Unset pass-through variables (null) stay unset; the rest parse.
      const set = Object.fromEntries(
        Object.entries(env)
          .filter(([, value]) => value !== null)
          .map(([key, value]) => [key, String(value)]),
      );
      expect(CONFIG_SCHEMAS[service].safeParse(set).error?.issues ?? []).toEqual([]);
      const stage = dockerStages().find((s) => s.name === service)!;
      expect(stage.lines).toContain(`EXPOSE ${env.PORT}`);
    });
  });
});

describe('Dockerfile', () => {
  const stages = dockerStages();

  it('builds on node:24 in stages: npm ci, compile, drop the dev dependencies, run as a non-root user', () => {
    const text = readText('Dockerfile');
    expect(text).toMatch(/^ARG NODE_IMAGE=node:24[-\w.]*$/m);
    expect(stages.every((stage) => ['${NODE_IMAGE}', 'runtime'].includes(stage.from))).toBe(true);
    const build = stages.find((s) => s.name === 'build')!.lines.join('\n');
    expect(build).toMatch(/npm ci\b/);
    expect(build).toMatch(/tsc -b tsconfig\.build\.json/);
    expect(build).toMatch(/npm prune --omit=dev/);
    const runtime = stages.find((s) => s.name === 'runtime')!.lines;
    expect(runtime).toContain('COPY --from=build /app /app');
    expect(runtime).toContain('USER node');
    // No stage after `runtime` switches back to root.
    expect(stages.flatMap((s) => s.lines).filter((l) => /^USER\s+(root|0)\b/.test(l))).toEqual([]);
  });

  it('copies the manifest of every npm workspace before npm ci', () => {
    const workspaces = (JSON.parse(readText('package.json')) as { workspaces: string[] }).workspaces.flatMap((glob) =>
      glob.endsWith('/*')
        ? readdirSync(path.join(ROOT, glob.slice(0, -2)), { withFileTypes: true })
            .filter((entry) => entry.isDirectory())
            .map((entry) => `${glob.slice(0, -2)}/${entry.name}`)
        : [glob],
    );
    const build = stages.find((s) => s.name === 'build')!.lines;
    for (const workspace of workspaces) expect(build).toContain(`COPY ${workspace}/package.json ${workspace}/`);
  });

  it('has a target for every image that compose and Kubernetes run, each starting its own entry point', () => {
    const composeTargets = Object.values(compose.services as Record<string, Any>)
      .filter((svc) => svc.build)
      .map((svc) => svc.build.target as string);
    const k8sImages = k8sManifests()
      .filter(({ manifest }) => ['Deployment', 'Job'].includes(manifest.kind))
      .map(({ manifest }) =>
        String((manifest as Any).spec.template.spec.containers[0].image).replace(/^vibe-architect\/|:.*$/g, ''),
      );
    const names = stages.map((s) => s.name);
    for (const target of [...composeTargets, ...k8sImages]) expect(names).toContain(target);
    for (const service of SERVICES) {
      expect(stages.find((s) => s.name === service)!.lines).toContain(
        `CMD ["node", "services/${service}/dist/main.js"]`,
      );
    }
    expect(stages.find((s) => s.name === 'migrate')!.lines).toContain(
      'CMD ["node", "libs/platform/dist/migrate-cli.js"]',
    );
  });

  it('leaves what is built or installed here out of the build context', () => {
    const ignored = readText('.dockerignore').split('\n');
    expect(ignored).toEqual(expect.arrayContaining(['**/node_modules', '**/dist', '.git', '.env']));
  });
});

describe('.env.example', () => {
  it('lists every variable every service reads, and those of the migrations and the CLI', () => {
    const variables = new Set([...SERVICES.flatMap(configVariables), 'MIGRATIONS_DIR', 'GATEWAY_URL']);
    expect([...variables].filter((name) => !envExample.listed.has(name))).toEqual([]);
  });

  it('lists every variable docker-compose.yml reads from it', () => {
    const used = [...readText('docker-compose.yml').matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1]!);
    const passedThrough = Object.values(raw.services as Record<string, Any>).flatMap((svc) =>
      Object.entries((svc.environment ?? {}) as Record<string, unknown>)
        .filter(([, value]) => value === null)
        .map(([key]) => key),
    );
    expect([...new Set([...used, ...passedThrough])].filter((name) => !envExample.listed.has(name))).toEqual([]);
  });

  it('sets nothing a service would refuse', () => {
    for (const service of SERVICES) {
      expect(CONFIG_SCHEMAS[service].safeParse(envExample.set).error?.issues ?? []).toEqual([]);
    }
  });
});
