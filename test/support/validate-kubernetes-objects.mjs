/**
 * Validates Kubernetes objects (a JSON array on stdin) against the Kubernetes API schemas of
 * `kubernetes-models` (KEDA's objects: `@kubernetes-models/keda`) and prints one result per object as
 * JSON: `{ ok: true }` or `{ ok: false, error }`. An apiVersion and kind no model knows is an error.
 *
 * A plain Node script, run by test/deployment-manifests.spec.ts: these packages are ES modules whose
 * package exports have no `require` condition, which Jest's CommonJS module system cannot load.
 */
import { readFileSync } from 'node:fs';

const objects = JSON.parse(readFileSync(0, 'utf8'));
const results = [];
for (const object of objects) {
  const apiVersion = String(object.apiVersion ?? '');
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  const module = group === 'keda.sh' ? `@kubernetes-models/keda/keda.sh/${version}` : group ? `kubernetes-models/${group}/${version}` : `kubernetes-models/${version}`;
  let Model;
  try {
    Model = (await import(module))[object.kind];
  } catch (error) {
    results.push({ ok: false, error: `no schemas for apiVersion ${apiVersion}: ${error.message}` });
    continue;
  }
  if (typeof Model !== 'function') {
    results.push({ ok: false, error: `unknown kind ${object.kind} in ${apiVersion}` });
    continue;
  }
  try {
    new Model(object).validate();
    results.push({ ok: true });
  } catch (error) {
    results.push({ ok: false, error: error.message });
  }
}
process.stdout.write(JSON.stringify(results));
