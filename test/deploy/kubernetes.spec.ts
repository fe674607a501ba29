import { readdirSync } from 'node:fs';
import { consumerConfigs } from '@vibe/platform';
import { topology } from '@vibe/contracts';
import {
  CONFIG_SCHEMAS,
  configVariables,
  K8S_DIR,
  k8sManifests,
  kubernetesSchemaErrors,
  kustomization,
  RUNTIME_VARIABLES,
  SERVICES,
  unknownFieldErrors,
  type Service,
} from './support.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- manifests are checked field by field below */
type Any = any;

const manifests = k8sManifests();
const all = manifests.map(({ manifest }) => manifest);
const ofKind = (kind: string): Any[] => all.filter((manifest) => manifest.kind === kind);
const named = (kind: string, name: string): Any => {
  const found = ofKind(kind).find((manifest) => manifest.metadata.name === name);
  if (!found) throw new Error(`no ${kind} ${name}`);
  return found;
};
const configMap = (name: string): Record<string, string> => named('ConfigMap', name).data ?? {};
const namespaceSetting = () => configMap('vibe-common').NATS_NAMESPACE ?? '';

describe('deploy/k8s', () => {
  it('applies every manifest of the directory through its kustomization, in one namespace', () => {
    const k = kustomization();
    const files = readdirSync(K8S_DIR).filter((file) => /\.ya?ml$/.test(file) && file !== 'kustomization.yaml');
    expect([...k.resources].sort()).toEqual(files.sort());
    expect(k.namespace).toBe('vibe-architect');
    expect(named('Namespace', 'vibe-architect')).toBeDefined();
    // Every image a workload uses has an entry to retag it.
    const images = [...ofKind('Deployment'), ...ofKind('Job')].flatMap((w) =>
      (w.spec.template.spec.containers as Any[]).map((c) => String(c.image).split(':')[0]),
    );
    expect(k.images.map((image) => image.name).sort()).toEqual([...new Set(images)].sort());
  });

  it('validates every manifest against the Kubernetes (and KEDA) schemas', () => {
    expect(all.length).toBeGreaterThan(20);
    const problems = manifests.flatMap(({ file, manifest }) =>
      kubernetesSchemaErrors(manifest).map((error) => `${file} ${manifest.kind} ${manifest.metadata.name}: ${error}`),
    );
    expect(problems).toEqual([]);
  });

  it('has no field the Kubernetes API does not know', () => {
    expect(unknownFieldErrors(all)).toEqual([]);
  });

  it('would notice a wrong type and an unknown field (the checks above can fail)', () => {
    const deployment = structuredClone<Any>(named('Deployment', 'gateway'));
    deployment.spec.replicas = 'two';
    expect(kubernetesSchemaErrors(deployment).join()).toMatch(/replicas/);
    const typo = structuredClone<Any>(named('Deployment', 'provisioner'));
    typo.spec.template.spec.containers[0].readynessProbe = typo.spec.template.spec.containers[0].readinessProbe;
    expect(kubernetesSchemaErrors(typo)).toEqual([]);
    expect(unknownFieldErrors([typo]).join()).toMatch(/readynessProbe/);
    const scaled = structuredClone<Any>(named('ScaledObject', 'provisioner'));
    delete scaled.spec.scaleTargetRef;
    expect(kubernetesSchemaErrors(scaled).join()).toMatch(/scaleTargetRef/);
  });

  describe.each(SERVICES)('%s', (service: Service) => {
    const deployment = named('Deployment', service);
    const pod = deployment.spec.template.spec;
    const container = pod.containers[0];
    const port = Number(configMap(`vibe-${service}`).PORT);

    it('runs the project image as a non-root, unprivileged user', () => {
      expect(pod.containers).toHaveLength(1);
      expect(container.image).toMatch(new RegExp(`^vibe-architect/${service}:`));
      expect(pod.securityContext.runAsNonRoot).toBe(true);
      expect(pod.securityContext.runAsUser).toBeGreaterThan(0);
      expect(pod.automountServiceAccountToken).toBe(false);
      expect(container.securityContext).toMatchObject({
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        capabilities: { drop: ['ALL'] },
      });
    });

    it('has liveness, readiness and startup probes on its health endpoints, and resources', () => {
      expect(container.ports).toEqual([{ name: 'http', containerPort: port }]);
      expect(container.livenessProbe.httpGet).toEqual({ path: '/health/live', port: 'http' });
      expect(container.startupProbe.httpGet).toEqual({ path: '/health/live', port: 'http' });
      expect(container.readinessProbe.httpGet).toEqual({ path: '/health', port: 'http' });
      // Readiness checks give up after 2 s each; the probe waits longer than that.
      expect(container.readinessProbe.timeoutSeconds).toBeGreaterThanOrEqual(3);
      expect(container.resources.requests).toEqual({ cpu: expect.any(String), memory: expect.any(String) });
      expect(container.resources.limits.memory).toEqual(expect.any(String));
    });

    it('takes settings from ConfigMaps and secrets from the Secret, each one a variable the service reads', () => {
      const maps = (container.envFrom as Any[]).map((source) => source.configMapRef.name);
      expect(maps).toEqual(['vibe-common', `vibe-${service}`]);
      const fromMaps = maps.flatMap((name: string) => Object.keys(configMap(name)));
      const fromSecrets = (container.env as Any[]).map((env) => {
        expect(env.valueFrom.secretKeyRef).toMatchObject({ name: 'vibe-secrets', key: env.name });
        return env.name as string;
      });
      expect(fromSecrets).toContain('DATABASE_URL');
      expect(fromMaps).not.toContain('DATABASE_URL');
      const known = new Set(configVariables(service));
      expect([...fromMaps, ...fromSecrets].filter((name) => !known.has(name) && !RUNTIME_VARIABLES.has(name))).toEqual(
        [],
      );
      // The ConfigMaps' values are valid for the service (the Secret's are the operator's).
      const env = {
        ...configMap('vibe-common'),
        ...configMap(`vibe-${service}`),
        DATABASE_URL: 'postgres://x@db:5432/vibe',
      };
      expect(CONFIG_SCHEMAS[service].safeParse(env).error?.issues ?? []).toEqual([]);
    });

    it('has a Service on its port and a PodDisruptionBudget that never blocks a drain', () => {
      const svc = named('Service', service);
      expect(svc.spec.selector).toEqual(deployment.spec.selector.matchLabels);
      expect(svc.spec.ports[0].targetPort).toBe('http');
      expect(deployment.spec.template.metadata.labels).toMatchObject(deployment.spec.selector.matchLabels);
      const pdb = named('PodDisruptionBudget', service);
      expect(pdb.spec.selector.matchLabels).toEqual(deployment.spec.selector.matchLabels);
      const minReplicas =
        deployment.spec.replicas ??
        ofKind('HorizontalPodAutoscaler').find((h) => h.spec.scaleTargetRef.name === service)?.spec.minReplicas ??
        ofKind('ScaledObject').find((s) => s.spec.scaleTargetRef.name === service)?.spec.minReplicaCount;
      expect(minReplicas).toBeGreaterThanOrEqual(1);
      if (pdb.spec.minAvailable !== undefined) expect(minReplicas).toBeGreaterThan(pdb.spec.minAvailable);
    });
  });

  it('scales the provisioner and the orchestrator with KEDA on the lag of the consumers the code creates', () => {
    const t = topology(namespaceSetting());
    const created = consumerConfigs(t);
    const cases = [
      { name: 'provisioner', stream: t.streams.provisionCommands, consumer: t.consumers.provisioner },
      { name: 'orchestrator', stream: t.streams.buildCommands, consumer: t.consumers.orchestrator },
    ];
    expect(
      ofKind('ScaledObject')
        .map((s) => s.metadata.name)
        .sort(),
    ).toEqual(cases.map((c) => c.name).sort());
    for (const { name, stream, consumer } of cases) {
      const scaled = named('ScaledObject', name);
      expect(scaled.spec.scaleTargetRef.name).toBe(name);
      expect(named('Deployment', name).spec.replicas).toBeUndefined();
      expect(scaled.spec.triggers).toHaveLength(1);
      const [trigger] = scaled.spec.triggers;
      expect(trigger.type).toBe('nats-jetstream');
      expect(trigger.metadata).toMatchObject({ stream, consumer, account: '$G' });
      expect(Number(trigger.metadata.lagThreshold)).toBeGreaterThan(0);
      // The consumer is one that ensureTopology creates, on that stream.
      expect(created).toContainEqual(
        expect.objectContaining({ stream, config: expect.objectContaining({ durable_name: consumer }) }),
      );
      // KEDA reads NATS' monitoring port on the host the services connect to.
      const natsHost = new URL(configMap('vibe-common').NATS_URL!).hostname;
      expect(trigger.metadata.natsServerMonitoringEndpoint).toBe(`${natsHost}:8222`);
    }
  });

  it('scales the gateway with a HorizontalPodAutoscaler', () => {
    const hpa = named('HorizontalPodAutoscaler', 'gateway');
    expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: 'gateway' });
    expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(2);
    expect(named('Deployment', 'gateway').spec.replicas).toBeUndefined();
  });

  it('runs the migrations as a Job of the project image', () => {
    const job = named('Job', 'vibe-migrate');
    const pod = job.spec.template.spec;
    expect(pod.containers[0].image).toMatch(/^vibe-architect\/migrate:/);
    expect(pod.restartPolicy).toBe('OnFailure');
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    expect(pod.containers[0].env).toContainEqual({
      name: 'DATABASE_URL',
      valueFrom: { secretKeyRef: { name: 'vibe-secrets', key: 'DATABASE_URL' } },
    });
  });

  it('never turns on a development or test switch', () => {
    const settings = ofKind('ConfigMap').flatMap((map) => Object.entries((map.data ?? {}) as Record<string, string>));
    const names = settings.map(([name]) => name);
    expect(names).not.toContain('VIBE_TEST_PAUSE_AT_NODE');
    expect(
      settings.filter(([name, value]) => ['DEV_TOKENS', 'ALLOW_ANONYMOUS_BUILDS'].includes(name) && value !== 'false'),
    ).toEqual([]);
    // The default JWT secret is the well-known local one: the services that verify users' tokens must get the
    // project's, from the Secret, and do not start without it.
    expect(names).not.toContain('SUPABASE_JWT_SECRET');
    for (const service of ['gateway', 'realtime-bridge']) {
      const env = named('Deployment', service).spec.template.spec.containers[0].env as Any[];
      expect(env).toContainEqual({
        name: 'SUPABASE_JWT_SECRET',
        valueFrom: { secretKeyRef: { name: 'vibe-secrets', key: 'SUPABASE_JWT_SECRET' } },
      });
    }
  });

  it('references Postgres and NATS instead of running them', () => {
    const workloads = all.filter((m) => ['Deployment', 'StatefulSet', 'DaemonSet', 'Job'].includes(m.kind)) as Any[];
    const images = workloads.flatMap((w) => (w.spec.template.spec.containers as Any[]).map((c) => String(c.image)));
    expect(images.filter((image) => !image.startsWith('vibe-architect/'))).toEqual([]);
    expect(new URL(configMap('vibe-common').NATS_URL!).hostname).toMatch(/\.svc\.cluster\.local$/);
  });

  describe('network policies', () => {
    const policies = ofKind('NetworkPolicy');
    const pods = [...SERVICES, 'migrate'].map((name) => ({
      name,
      labels: (name === 'migrate' ? named('Job', 'vibe-migrate') : named('Deployment', name)).spec.template.metadata
        .labels as Record<string, string>,
    }));
    /** What a pod may send or receive: `peer:port` for every peer and port a policy lets through. */
    const allowed = (pod: (typeof pods)[number], direction: 'ingress' | 'egress'): string[] => {
      const type = direction === 'ingress' ? 'Ingress' : 'Egress';
      const applying = policies.filter(
        (p) => (p.spec.policyTypes as string[]).includes(type) && selects(p.spec.podSelector, pod.labels),
      );
      return applying.flatMap((p) =>
        ((p.spec[direction] ?? []) as Any[]).flatMap((rule) => {
          const peers = ((direction === 'ingress' ? rule.from : rule.to) ?? [{ any: true }]) as Any[];
          const ports = ((rule.ports ?? [{ port: '*' }]) as Any[]).map((port) => String(port.port));
          return peers.flatMap((peer) => ports.map((port) => `${peerName(peer)}:${port}`));
        }),
      );
    };

    it('deny everything by default, in and out, for every pod', () => {
      const deny = policies.filter(
        (p) => Object.keys(p.spec.podSelector).length === 0 && !p.spec.ingress && !p.spec.egress,
      );
      expect(deny).toHaveLength(1);
      expect([...deny[0].spec.policyTypes].sort()).toEqual(['Egress', 'Ingress']);
    });

    it('let in only the ingress controller (gateway, Realtime) and Prometheus, never another service', () => {
      const ingress = Object.fromEntries(pods.map((pod) => [pod.name, allowed(pod, 'ingress').sort()]));
      expect(ingress).toEqual({
        gateway: ['namespace=ingress-nginx:3000', ...metricsPorts].sort(),
        orchestrator: metricsPorts,
        provisioner: metricsPorts,
        'drift-sentinel': metricsPorts,
        'realtime-bridge': ['namespace=ingress-nginx:3004', ...metricsPorts].sort(),
        migrate: [],
      });
    });

    it('let out only DNS, Postgres, NATS (services) and HTTPS where a cloud driver needs it', () => {
      const dns = ['namespace=kube-system,k8s-app=kube-dns:53', 'namespace=kube-system,k8s-app=kube-dns:53'];
      const postgres = ['any:5432', 'any:6543'];
      const nats = ['namespace=nats:4222'];
      const https = ['any:443'];
      const egress = Object.fromEntries(pods.map((pod) => [pod.name, allowed(pod, 'egress').sort()]));
      expect(egress).toEqual({
        gateway: [...dns, ...postgres, ...nats].sort(),
        orchestrator: [...dns, ...postgres, ...nats, ...https].sort(),
        provisioner: [...dns, ...postgres, ...nats, ...https].sort(),
        'drift-sentinel': [...dns, ...postgres, ...nats].sort(),
        'realtime-bridge': [...dns, ...postgres, ...nats, ...https].sort(),
        migrate: [...dns, ...postgres].sort(),
      });
    });
  });
});

const metricsPorts = ['3000', '3001', '3002', '3003', '3004'].map((port) => `namespace=monitoring:${port}`).sort();

/** A label selector (matchLabels, matchExpressions with In) applied to a pod's labels. */
function selects(selector: Any, labels: Record<string, string>): boolean {
  const matchLabels = Object.entries((selector.matchLabels ?? {}) as Record<string, string>);
  const expressions = (selector.matchExpressions ?? []) as Any[];
  return (
    matchLabels.every(([key, value]) => labels[key] === value) &&
    expressions.every((e) => {
      if (e.operator !== 'In') throw new Error(`selector operator ${e.operator} is not evaluated here`);
      return (e.values as string[]).includes(labels[e.key] ?? '');
    })
  );
}

function peerName(peer: Any): string {
  if (peer.any) return 'any';
  if (peer.ipBlock) return `cidr=${peer.ipBlock.cidr}`;
  const parts: string[] = [];
  const ns = peer.namespaceSelector?.matchLabels?.['kubernetes.io/metadata.name'];
  if (ns) parts.push(`namespace=${ns}`);
  for (const [key, value] of Object.entries((peer.podSelector?.matchLabels ?? {}) as Record<string, string>)) {
    parts.push(`${key}=${value}`);
  }
  if (parts.length === 0) throw new Error(`peer ${JSON.stringify(peer)} is not evaluated here`);
  return parts.join(',');
}
