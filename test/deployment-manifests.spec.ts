import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import { QueueKeys } from 'bullmq';
import { parse, parseAllDocuments } from 'yaml';
import { CONFIG_VARIABLES, SECRET_VARIABLES } from '../src/config/config.schema';
import { consumedQueues } from '../src/pipeline/pipeline-workers.service';
import { WEBHOOK_QUEUE } from '../src/webhooks/webhook-queue.service';

/**
 * The deployment files: every Kubernetes manifest of deploy/kubernetes/ is valid against the Kubernetes
 * API schemas (KEDA's for its objects) and holds what running the service needs; docker-compose.yml is
 * valid against the Compose Specification's schema. No cluster and no Docker: the files are read as
 * kustomize would read them (the kustomization's resources, each a list of YAML documents).
 */

const root = join(__dirname, '..');
const manifestDir = join(root, 'deploy/kubernetes');
const knownVariables = new Set(CONFIG_VARIABLES.map((v) => v.name));

// Loose shapes: the schemas judge the structure; these name only what the assertions read.
interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  [field: string]: unknown;
}
interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string; optional?: boolean }; configMapKeyRef?: unknown };
}
interface Probe {
  httpGet?: { path: string; port: string | number };
}
interface Container {
  name: string;
  image: string;
  ports?: { name?: string; containerPort: number }[];
  env?: EnvVar[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  volumeMounts?: { name: string; mountPath: string }[];
}
interface Volume {
  name: string;
  projected?: { sources: { serviceAccountToken?: { path: string; audience?: string; expirationSeconds?: number } }[] };
}
interface PodSpec {
  serviceAccountName?: string;
  containers: Container[];
  volumes?: Volume[];
}
interface Deployment extends K8sObject {
  spec: { selector: { matchLabels: Record<string, string> }; template: { metadata: { labels: Record<string, string> }; spec: PodSpec } };
}
interface Selecting extends K8sObject {
  spec: { selector?: { matchLabels: Record<string, string> }; podSelector?: { matchLabels: Record<string, string> } };
}
interface ScaledObject extends K8sObject {
  spec: { scaleTargetRef: { name: string }; triggers: { type: string; metadata: Record<string, string>; authenticationRef?: { name: string } }[] };
}

function readDocuments(file: string): K8sObject[] {
  return parseAllDocuments(readFileSync(join(manifestDir, file), 'utf8')).map((doc) => {
    if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors.map((e) => e.message).join('; ')}`);
    return doc.toJS() as K8sObject;
  });
}

const kustomization = parse(readFileSync(join(manifestDir, 'kustomization.yaml'), 'utf8')) as { resources: string[]; images: { name: string; newName: string }[] };
const objects = kustomization.resources.flatMap(readDocuments);
const secretExample = readDocuments('secret.example.yaml');

const ofKind = <T extends K8sObject>(kind: string): T[] => objects.filter((o) => o.kind === kind) as T[];
const named = <T extends K8sObject>(kind: string, name: string): T => {
  const found = ofKind<T>(kind).find((o) => o.metadata.name === name);
  if (!found) throw new Error(`no ${kind} ${name} in the kustomization`);
  return found;
};
const deployments = ofKind<Deployment>('Deployment');
const containersOf = (d: Deployment) => d.spec.template.spec.containers;
const envOf = (d: Deployment, name: string) =>
  containersOf(d)
    .flatMap((c) => c.env ?? [])
    .find((e) => e.name === name)?.value;
const selects = (selector: Record<string, string>, labels: Record<string, string>) => Object.entries(selector).every(([k, v]) => labels[k] === v);
const configMap = named<K8sObject & { data: Record<string, string> }>('ConfigMap', 'wasm-signer-config');

/** Runs the schema validation (test/support/validate-kubernetes-objects.mjs) on these objects. */
function validateKubernetes(list: unknown[]): { ok: boolean; error?: string }[] {
  const output = execFileSync(process.execPath, [join(root, 'test/support/validate-kubernetes-objects.mjs')], { input: JSON.stringify(list), encoding: 'utf8' });
  return JSON.parse(output) as { ok: boolean; error?: string }[];
}

describe('Kubernetes manifests (deploy/kubernetes)', () => {
  it('lists every manifest in the kustomization, except the example Secret', () => {
    const files = readdirSync(manifestDir).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
    expect([...kustomization.resources].sort()).toEqual(files.filter((f) => f !== 'secret.example.yaml').sort());
  });

  it('validates every object against the Kubernetes (and KEDA) schemas', () => {
    const all = [...objects, ...secretExample];
    const results = validateKubernetes(all);
    const failures = results.flatMap((r, i) => (r.ok ? [] : [`${all[i].kind} ${all[i].metadata?.name}: ${r.error}`]));
    expect(failures).toEqual([]);
    expect(new Set(objects.map((o) => o.kind))).toEqual(
      new Set(['ServiceAccount', 'ConfigMap', 'Deployment', 'Service', 'PodDisruptionBudget', 'NetworkPolicy', 'TriggerAuthentication', 'ScaledObject']),
    );
  });

  it('refuses a broken object and an unknown kind (the validation is not vacuous)', () => {
    const api = structuredClone(named<Deployment>('Deployment', 'wasm-signer-api')) as unknown as { spec: Record<string, unknown> };
    api.spec.replicas = 'two';
    const scaled = structuredClone(named<ScaledObject>('ScaledObject', 'wasm-signer-worker')) as unknown as { spec: Record<string, unknown> };
    delete scaled.spec.scaleTargetRef;
    const results = validateKubernetes([api, scaled, { apiVersion: 'apps/v1', kind: 'Deploymnet', metadata: { name: 'x' } }]);
    expect(results.map((r) => r.ok)).toEqual([false, false, false]);
    expect(results[0].error).toMatch(/replicas must be integer/);
    expect(results[1].error).toMatch(/scaleTargetRef/);
    expect(results[2].error).toMatch(/unknown kind Deploymnet/);
  });

  it('runs the api, signing workers and build workers as three Deployments of the one build', () => {
    const byName = Object.fromEntries(deployments.map((d) => [d.metadata.name, d]));
    expect(Object.keys(byName).sort()).toEqual(['wasm-signer-api', 'wasm-signer-build-worker', 'wasm-signer-worker']);
    expect(envOf(byName['wasm-signer-api'], 'ROLE')).toBe('api');
    expect(envOf(byName['wasm-signer-worker'], 'ROLE')).toBe('worker');
    expect(envOf(byName['wasm-signer-worker'], 'BUILD_WORKER')).toBe('off');
    expect(envOf(byName['wasm-signer-build-worker'], 'ROLE')).toBe('worker');
    expect(envOf(byName['wasm-signer-build-worker'], 'BUILD_WORKER')).toBe('only');
    // Build workers run the Dockerfile's build-worker target, under an account of their own.
    expect(containersOf(byName['wasm-signer-build-worker'])[0].image).toBe('wasm-signer-build-worker');
    expect(containersOf(byName['wasm-signer-api'])[0].image).toBe('wasm-signer');
    expect(containersOf(byName['wasm-signer-worker'])[0].image).toBe('wasm-signer');
    const accounts = deployments.map((d) => d.spec.template.spec.serviceAccountName);
    expect(new Set(accounts).size).toBe(3);
    for (const account of accounts) expect(named('ServiceAccount', account!)).toBeDefined();
    // Every image is one the kustomization's images: entries set.
    const imageNames = new Set(kustomization.images.map((i) => i.name));
    for (const d of deployments) for (const c of containersOf(d)) expect(imageNames).toContain(c.image);
  });

  it('gives every container readiness and liveness probes on the real health paths, and resources', () => {
    for (const d of deployments) {
      for (const c of containersOf(d)) {
        const ports = new Set((c.ports ?? []).flatMap((p) => [p.name, p.containerPort]));
        expect([d.metadata.name, c.readinessProbe?.httpGet?.path]).toEqual([d.metadata.name, '/health/ready']);
        expect([d.metadata.name, c.livenessProbe?.httpGet?.path]).toEqual([d.metadata.name, '/health/live']);
        expect(ports.has(c.readinessProbe!.httpGet!.port) && ports.has(c.livenessProbe!.httpGet!.port)).toBe(true);
        expect(ports.has(3000)).toBe(true); // PORT's default, which no manifest changes
        expect(c.resources?.requests?.cpu && c.resources.requests.memory && c.resources.limits?.memory).toBeTruthy();
      }
    }
    const service = named<K8sObject & { spec: { selector: Record<string, string> } }>('Service', 'wasm-signer-api');
    expect(selects(service.spec.selector, named<Deployment>('Deployment', 'wasm-signer-api').spec.template.metadata.labels)).toBe(true);
  });

  it('projects a service-account token with the audience sigstore into the signing workers only, at IDENTITY_TOKEN_FILE', () => {
    const tokenFile = configMap.data.IDENTITY_TOKEN_FILE;
    expect(configMap.data.IDENTITY_PROVIDER).toBe('token-file');
    for (const d of deployments) {
      const projections = (d.spec.template.spec.volumes ?? []).flatMap((v) =>
        (v.projected?.sources ?? []).flatMap((s) => (s.serviceAccountToken ? [{ volume: v.name, ...s.serviceAccountToken }] : [])),
      );
      if (d.metadata.name !== 'wasm-signer-worker') {
        expect([d.metadata.name, projections]).toEqual([d.metadata.name, []]);
        continue;
      }
      expect(projections).toEqual([{ volume: expect.any(String) as string, path: basename(tokenFile), audience: 'sigstore', expirationSeconds: 600 }]);
      const mounts = containersOf(d).flatMap((c) => c.volumeMounts ?? []);
      expect(mounts).toContainEqual(expect.objectContaining({ name: projections[0].volume, mountPath: dirname(tokenFile) }));
    }
  });

  it('keeps every Deployment behind a PodDisruptionBudget and a NetworkPolicy that select its pods', () => {
    for (const kind of ['PodDisruptionBudget', 'NetworkPolicy']) {
      const selectors = ofKind<Selecting>(kind).map((o) => (o.spec.selector ?? o.spec.podSelector)!.matchLabels);
      for (const d of deployments) {
        const matching = selectors.filter((s) => selects(s, d.spec.template.metadata.labels));
        expect([kind, d.metadata.name, matching.length]).toEqual([kind, d.metadata.name, 1]);
      }
      // Each selects exactly one Deployment's pods.
      for (const s of selectors) expect(deployments.filter((d) => selects(s, d.spec.template.metadata.labels))).toHaveLength(1);
    }
  });

  it('scales each worker Deployment on the Redis lists of exactly the queues it consumes', () => {
    // BullMQ's own key naming: a queue's waiting jobs are the list <prefix>:<queue>:wait.
    const keys = new QueueKeys(configMap.data.QUEUE_PREFIX);
    const scaled = ofKind<ScaledObject>('ScaledObject');
    const workers = deployments.filter((d) => envOf(d, 'ROLE') === 'worker');
    expect(scaled.map((s) => s.spec.scaleTargetRef.name).sort()).toEqual(workers.map((d) => d.metadata.name).sort());
    for (const s of scaled) {
      const target = named<Deployment>('Deployment', s.spec.scaleTargetRef.name);
      const buildWorker = envOf(target, 'BUILD_WORKER') as 'off' | 'only';
      // Signing workers also deliver webhooks (build nodes do not): that queue is scaled on with them.
      const expected = buildWorker === 'only' ? consumedQueues('only') : [...consumedQueues(buildWorker), WEBHOOK_QUEUE];
      expect(s.spec.triggers.every((t) => t.type === 'redis')).toBe(true);
      expect(s.spec.triggers.map((t) => t.metadata.listName).sort()).toEqual(expected.map((q) => keys.toKey(q, 'wait')).sort());
      for (const t of s.spec.triggers) expect(named('TriggerAuthentication', t.authenticationRef!.name)).toBeDefined();
    }
  });

  it('takes secrets only from the Secret, never as literal values, and sets only known configuration variables', () => {
    expect(ofKind('Secret')).toEqual([]);
    const secretKeys = new Set(Object.keys((secretExample[0] as K8sObject & { stringData: Record<string, string> }).stringData));
    for (const key of Object.keys(configMap.data)) {
      expect([key, knownVariables.has(key), SECRET_VARIABLES.includes(key)]).toEqual([key, true, false]);
    }
    for (const d of deployments) {
      for (const c of containersOf(d)) {
        for (const ref of c.envFrom ?? []) expect(ref.configMapRef?.name ?? ref.secretRef?.name).toMatch(/^wasm-signer(-config)?$/);
        for (const e of c.env ?? []) {
          expect([e.name, knownVariables.has(e.name)]).toEqual([e.name, true]);
          if (SECRET_VARIABLES.includes(e.name)) expect([e.name, e.value]).toEqual([e.name, undefined]);
          const ref = e.valueFrom?.secretKeyRef;
          if (ref) expect([ref.name, secretKeys.has(ref.key)]).toEqual(['wasm-signer', true]);
        }
      }
    }
    const auth = named<K8sObject & { spec: { secretTargetRef: { name: string; key: string }[] } }>('TriggerAuthentication', 'wasm-signer-redis');
    for (const ref of auth.spec.secretTargetRef) expect([ref.name, secretKeys.has(ref.key)]).toEqual(['wasm-signer', true]);
    // The example's keys are configuration variables, besides the two KEDA reads.
    for (const key of secretKeys) if (!key.startsWith('redis-')) expect([key, SECRET_VARIABLES.includes(key)]).toEqual([key, true]);
    // Build workers sign nothing and serve no API: no admin key, no dashboard password.
    const buildEnv = containersOf(named<Deployment>('Deployment', 'wasm-signer-build-worker')).flatMap((c) => (c.env ?? []).map((e) => e.name));
    expect(buildEnv).not.toContain('BOOTSTRAP_ADMIN_API_KEY');
    expect(buildEnv).not.toContain('ADMIN_PASSWORD');
  });
});

describe('docker-compose.yml', () => {
  const compose = parse(readFileSync(join(root, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
    services: Record<string, { image?: string; environment?: Record<string, unknown> }>;
  };
  const schema = JSON.parse(readFileSync(join(root, 'test/support/compose-spec/compose-spec.json'), 'utf8')) as object;
  // The Compose Specification's schema is JSON Schema 2020-12; strict mode off for its annotations.
  const validate = new Ajv2020({ allErrors: true, strict: false }).compile(schema);

  it('is valid against the Compose Specification schema', () => {
    expect(validate(compose) ? [] : validate.errors).toEqual([]);
  });

  it('is refused by the schema when broken (the validation is not vacuous)', () => {
    const broken = structuredClone(compose) as unknown as { services: Record<string, Record<string, unknown>> };
    broken.services.api.depends_on = { redis: { condition: 'service_happy' } };
    broken.services.worker.restrt = 'always';
    expect(validate(broken)).toBe(false);
    expect(validate.errors?.map((e) => e.instancePath)).toEqual(expect.arrayContaining(['/services/api/depends_on/redis/condition', '/services/worker']));
  });

  it('sets only known configuration variables on the services of this image', () => {
    const ours = Object.entries(compose.services).filter(([, s]) => s.image?.startsWith('wasm-signer'));
    expect(ours.map(([name]) => name).sort()).toEqual(['api', 'build-worker', 'worker']);
    for (const [name, service] of ours) {
      for (const variable of Object.keys(service.environment ?? {})) expect([name, variable, knownVariables.has(variable)]).toEqual([name, variable, true]);
    }
  });
});
