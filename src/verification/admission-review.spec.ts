import { AdmissionReviewError, MAX_ADMISSION_IMAGES, admissionAnswer, normalizeImage, readAdmissionReview } from './admission-review';

const review = (request: Record<string, unknown>) => ({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: 'uid-1', operation: 'CREATE', ...request } });
const pod = (spec: Record<string, unknown>) => review({ kind: { group: '', version: 'v1', kind: 'Pod' }, object: { apiVersion: 'v1', kind: 'Pod', spec } });
const spinApp = (spec: Record<string, unknown>) =>
  review({ kind: { group: 'core.spinkube.dev', version: 'v1alpha1', kind: 'SpinApp' }, object: { apiVersion: 'core.spinkube.dev/v1alpha1', kind: 'SpinApp', spec } });

const failure = (body: unknown) => {
  try {
    readAdmissionReview(body);
  } catch (error) {
    if (error instanceof AdmissionReviewError) return { code: error.code, message: error.message };
    throw error;
  }
  throw new Error('expected an AdmissionReviewError');
};

describe('readAdmissionReview', () => {
  it('takes the images of every container list of a Pod, once each, in order', () => {
    const subject = readAdmissionReview(
      pod({
        initContainers: [{ name: 'init', image: 'r.example/team/init:v1' }],
        containers: [
          { name: 'a', image: 'r.example/team/app:v1' },
          { name: 'b', image: 'r.example/team/app:v1' },
        ],
        ephemeralContainers: [{ name: 'debug', image: 'r.example/tools/debug@sha256:' + 'a'.repeat(64) }],
      }),
    );
    expect(subject).toEqual({
      uid: 'uid-1',
      kind: '/v1/Pod',
      images: ['r.example/team/app:v1', 'r.example/team/init:v1', 'r.example/tools/debug@sha256:' + 'a'.repeat(64)],
    });
  });

  it("takes a SpinApp's spec.image", () => {
    expect(readAdmissionReview(spinApp({ image: 'r.example/team/spin:v2', replicas: 2 })).images).toEqual(['r.example/team/spin:v2']);
  });

  const templated = (group: string, kind: string, object: Record<string, unknown>) => review({ kind: { group, version: 'v1', kind }, object });
  const template = (image: string) => ({ template: { spec: { containers: [{ name: 'a', image }], initContainers: [{ name: 'i', image: `${image}-init` }] } } });

  it.each([
    ['apps', 'Deployment'],
    ['apps', 'ReplicaSet'],
    ['apps', 'StatefulSet'],
    ['apps', 'DaemonSet'],
    ['batch', 'Job'],
    ['', 'ReplicationController'],
  ])("takes the pod template's images of a %s/%s", (group, kind) => {
    expect(readAdmissionReview(templated(group, kind, { spec: template('r.example/team/app:v1') }))).toEqual({
      uid: 'uid-1',
      kind: `${group}/v1/${kind}`,
      images: ['r.example/team/app:v1', 'r.example/team/app:v1-init'],
    });
  });

  it("takes a CronJob's job template's images and a PodTemplate's", () => {
    expect(readAdmissionReview(templated('batch', 'CronJob', { spec: { schedule: '* * * * *', jobTemplate: { spec: template('r.example/cron:v1') } } })).images).toEqual([
      'r.example/cron:v1',
      'r.example/cron:v1-init',
    ]);
    expect(readAdmissionReview(templated('', 'PodTemplate', template('r.example/pt:v1'))).images).toEqual(['r.example/pt:v1', 'r.example/pt:v1-init']);
  });

  it('names the field of a pod template that is wrong', () => {
    expect(failure(templated('apps', 'Deployment', { spec: { replicas: 1 } }))).toEqual({
      code: 'INVALID_ADMISSION_REVIEW',
      message: 'request.object.spec.template must be an object',
    });
    expect(failure(templated('batch', 'CronJob', { spec: { jobTemplate: { spec: { template: { spec: { containers: [{ image: '' }] } } } } } })).message).toBe(
      'request.object.spec.jobTemplate.spec.template.spec.containers[0].image must be a non-empty string',
    );
  });

  it('leaves other kinds, DELETE and CONNECT untouched (images null)', () => {
    expect(readAdmissionReview(review({ kind: { group: '', version: 'v1', kind: 'Service' }, object: { spec: {} } })).images).toBeNull();
    expect(readAdmissionReview(review({ kind: { group: 'example.com', version: 'v1', kind: 'Deployment' }, object: 'not looked at' })).images).toBeNull();
    expect(readAdmissionReview(review({ kind: { group: '', version: 'v1', kind: 'ConfigMap' }, object: 'not looked at' })).images).toBeNull();
    expect(readAdmissionReview({ ...pod({}), request: { ...pod({}).request, operation: 'DELETE', object: null } }).images).toBeNull();
    expect(readAdmissionReview({ ...pod({}), request: { ...pod({}).request, operation: 'CONNECT', object: null } }).images).toBeNull();
  });

  it.each([
    ['not an object', [], 'the body must be an object'],
    ['another apiVersion', { ...pod({}), apiVersion: 'admission.k8s.io/v1beta1' }, 'apiVersion "admission.k8s.io/v1beta1"'],
    ['another kind', { ...pod({}), kind: 'Pod' }, 'kind "Pod"'],
    ['no request', { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }, 'request must be an object'],
    ['no uid', { ...pod({}), request: { ...pod({}).request, uid: undefined } }, 'request.uid must be a non-empty string'],
    ['an over-long uid', { ...pod({}), request: { ...pod({}).request, uid: 'u'.repeat(129) } }, 'request.uid has 129 characters, more than 128'],
    ['a Pod object that is not an object', { ...pod({}), request: { ...pod({}).request, object: 'pod' } }, 'request.object must be an object'],
    ['containers not an array', pod({ containers: { image: 'x' } }), 'request.object.spec.containers must be an array'],
    ['an image not a string', pod({ containers: [{ name: 'a', image: 7 }] }), 'request.object.spec.containers[0].image must be a non-empty string'],
    ['an over-long image', pod({ containers: [{ name: 'a', image: 'r.example/' + 'a'.repeat(1100) }] }), 'more than 1024'],
    ['a SpinApp without spec.image', spinApp({ replicas: 1 }), 'request.object.spec.image must be a non-empty string'],
  ])('refuses %s with INVALID_ADMISSION_REVIEW', (_what, body, message) => {
    const { code, message: actual } = failure(body);
    expect(code).toBe('INVALID_ADMISSION_REVIEW');
    expect(actual).toContain(message);
  });

  it(`takes ${MAX_ADMISSION_IMAGES} images and refuses one more (ADMISSION_TOO_MANY_IMAGES)`, () => {
    const containers = (count: number) => Array.from({ length: count }, (_, i) => ({ name: `c${i}`, image: `r.example/team/app${i}:v1` }));
    expect(readAdmissionReview(pod({ containers: containers(MAX_ADMISSION_IMAGES) })).images).toHaveLength(MAX_ADMISSION_IMAGES);
    expect(failure(pod({ containers: containers(MAX_ADMISSION_IMAGES - 1), initContainers: containers(2) }))).toEqual({
      code: 'ADMISSION_TOO_MANY_IMAGES',
      message: `the object names ${MAX_ADMISSION_IMAGES + 1} images, more than ${MAX_ADMISSION_IMAGES}`,
    });
  });
});

describe('admissionAnswer', () => {
  it('allows, echoing the uid, with the warnings', () => {
    expect(admissionAnswer('uid-9', [{ image: 'a', warning: 'a is r/a@sha256:1' }, { image: 'b' }])).toEqual({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      response: { uid: 'uid-9', allowed: true, warnings: ['a is r/a@sha256:1'] },
    });
    expect(admissionAnswer('uid-0', []).response).toEqual({ uid: 'uid-0', allowed: true });
  });

  it('denies with status 403 and one line per failing image', () => {
    const answer = admissionAnswer('uid-2', [
      { image: 'r/a:v1', denial: { code: 'NO_SIGNATURES', message: 'none found' }, warning: 'r/a:v1 is r/a@sha256:1' },
      { image: 'r/b:v1' },
      { image: 'r/c:v1', denial: { code: 'REGISTRY_UNAVAILABLE', message: 'connection refused' } },
    ]);
    expect(answer.response).toEqual({
      uid: 'uid-2',
      allowed: false,
      status: { code: 403, message: 'r/a:v1: NO_SIGNATURES: none found\nr/c:v1: REGISTRY_UNAVAILABLE: connection refused' },
      warnings: ['r/a:v1 is r/a@sha256:1'],
    });
  });
});

describe('normalizeImage', () => {
  it.each([
    ['nginx', 'docker.io/library/nginx:latest'],
    ['team/app:v1', 'docker.io/team/app:v1'],
    ['localhost/app', 'localhost/app:latest'],
    ['127.0.0.1:5000/team/app', '127.0.0.1:5000/team/app:latest'],
    ['ghcr.io/org/app:v2', 'ghcr.io/org/app:v2'],
    ['ghcr.io/org/app@sha256:' + 'b'.repeat(64), 'ghcr.io/org/app@sha256:' + 'b'.repeat(64)],
  ])('reads %s as %s', (image, expected) => {
    expect(normalizeImage(image)).toBe(expected);
  });
});
