import { CodedError, errorCodes } from '../common/coded-error';
import { MAX_REFERENCE_LENGTH } from '../common/field-limits';

/**
 * Kubernetes validating admission (admission.k8s.io/v1): reading an AdmissionReview down to the images
 * a workload would run, and building the review the API server expects back. Pure: no registry, no HTTP.
 */

export const ADMISSION_REVIEW_ERROR_CODES = errorCodes('INVALID_ADMISSION_REVIEW', 'ADMISSION_TOO_MANY_IMAGES');
export type AdmissionReviewErrorCode = keyof typeof ADMISSION_REVIEW_ERROR_CODES;

export class AdmissionReviewError extends CodedError<AdmissionReviewErrorCode> {
  constructor(code: AdmissionReviewErrorCode, message: string) {
    super(code, message);
    this.name = 'AdmissionReviewError';
  }
}

export const ADMISSION_API_VERSION = 'admission.k8s.io/v1';
/** Image references one object may name; each costs registry round trips and signature checks. */
export const MAX_ADMISSION_IMAGES = 64;
/** Kubernetes uids are 36 characters; names and kinds at most 253 (DNS subdomains). */
export const MAX_UID_LENGTH = 128;
export const MAX_NAME_LENGTH = 253;

const POD_CONTAINER_LISTS = ['containers', 'initContainers', 'ephemeralContainers'] as const;

export interface AdmissionSubject {
  uid: string;
  /** `group/version/kind` as sent (`/v1/Pod` for the core group). */
  kind: string;
  /** The distinct images to judge, in the order the object names them; null: allowed untouched (another kind, DELETE or CONNECT). */
  images: string[] | null;
}

/** Reads the review; throws AdmissionReviewError naming the first field that is wrong. */
export function readAdmissionReview(body: unknown): AdmissionSubject {
  const review = object(body, 'the body');
  if (review.apiVersion !== ADMISSION_API_VERSION || review.kind !== 'AdmissionReview') {
    throw invalid(`the body must be an AdmissionReview of apiVersion ${ADMISSION_API_VERSION} (got apiVersion ${shown(review.apiVersion)}, kind ${shown(review.kind)})`);
  }
  const request = object(review.request, 'request');
  const uid = text(request.uid, 'request.uid', MAX_UID_LENGTH);
  const kind = object(request.kind, 'request.kind');
  const group = kind.group === undefined ? '' : text(kind.group, 'request.kind.group', MAX_NAME_LENGTH, true);
  const version = text(kind.version, 'request.kind.version', MAX_NAME_LENGTH);
  const kindName = text(kind.kind, 'request.kind.kind', MAX_NAME_LENGTH);
  const operation = text(request.operation, 'request.operation', MAX_NAME_LENGTH);
  const subject = { uid, kind: `${group}/${version}/${kindName}` };
  if (operation === 'DELETE' || operation === 'CONNECT') return { ...subject, images: null };
  if (group === 'core.spinkube.dev' && kindName === 'SpinApp') return { ...subject, images: spinAppImages(object(request.object, 'request.object')) };
  const podSpecPath = POD_SPEC_PATHS[`${group}/${kindName}`];
  if (podSpecPath) return { ...subject, images: podImages(object(request.object, 'request.object'), podSpecPath) };
  return { ...subject, images: null };
}

/**
 * Where the pod spec is in each kind that holds one, by `group/kind`: a Pod, and the workloads that make
 * Pods from a template (as policy-controller judges them), so that a Deployment naming an unsigned image
 * is refused when it is applied rather than its ReplicaSet failing to make Pods later.
 */
const POD_SPEC_PATHS: Readonly<Record<string, readonly string[]>> = {
  '/Pod': ['spec'],
  '/ReplicationController': ['spec', 'template', 'spec'],
  '/PodTemplate': ['template', 'spec'],
  'apps/Deployment': ['spec', 'template', 'spec'],
  'apps/ReplicaSet': ['spec', 'template', 'spec'],
  'apps/StatefulSet': ['spec', 'template', 'spec'],
  'apps/DaemonSet': ['spec', 'template', 'spec'],
  'batch/Job': ['spec', 'template', 'spec'],
  'batch/CronJob': ['spec', 'jobTemplate', 'spec', 'template', 'spec'],
};

function podImages(owner: Record<string, unknown>, specPath: readonly string[]): string[] {
  let spec = owner;
  let where = 'request.object';
  for (const field of specPath) {
    where = `${where}.${field}`;
    spec = object(spec[field], where);
  }
  const images: string[] = [];
  for (const list of POD_CONTAINER_LISTS) {
    const containers = spec[list];
    if (containers === undefined || containers === null) continue;
    if (!Array.isArray(containers)) throw invalid(`${where}.${list} must be an array`);
    if (containers.length > MAX_ADMISSION_IMAGES) throw tooMany(containers.length);
    containers.forEach((entry, index) => {
      const container = object(entry, `${where}.${list}[${index}]`);
      // The API server defaults nothing here: a container without an image is refused by its own validation.
      if (container.image === undefined) return;
      images.push(text(container.image, `${where}.${list}[${index}].image`, MAX_REFERENCE_LENGTH));
    });
  }
  return distinct(images);
}

function spinAppImages(app: Record<string, unknown>): string[] {
  const spec = object(app.spec, 'request.object.spec');
  return [text(spec.image, 'request.object.spec.image', MAX_REFERENCE_LENGTH)];
}

function distinct(images: string[]): string[] {
  if (images.length > MAX_ADMISSION_IMAGES) throw tooMany(images.length);
  return [...new Set(images)];
}

/** What was found about one image: a denial line, a warning, both or neither. */
export interface ImageJudgement {
  image: string;
  denial?: { code: string; message: string };
  warning?: string;
}

export interface AdmissionReviewAnswer {
  apiVersion: typeof ADMISSION_API_VERSION;
  kind: 'AdmissionReview';
  response: { uid: string; allowed: boolean; status?: { code: number; message: string }; warnings?: string[] };
}

/** The review sent back: denied (403, one line per failing image) when any image is, with every warning. */
export function admissionAnswer(uid: string, judgements: readonly ImageJudgement[]): AdmissionReviewAnswer {
  const denials = judgements.filter((judgement) => judgement.denial).map(({ image, denial }) => `${image}: ${denial!.code}: ${denial!.message}`);
  const warnings = judgements.flatMap((judgement) => (judgement.warning ? [judgement.warning] : []));
  return {
    apiVersion: ADMISSION_API_VERSION,
    kind: 'AdmissionReview',
    response: {
      uid,
      allowed: denials.length === 0,
      ...(denials.length > 0 ? { status: { code: 403, message: denials.join('\n') } } : {}),
      ...(warnings.length > 0 ? { warnings } : {}),
    },
  };
}

/**
 * An image as the container runtime reads it: a first component that is not a host (no `.` or `:`, not
 * localhost) means Docker Hub (`docker.io/`, `library/` for one component), and no tag nor digest means
 * `:latest`. Written here because the runtime's normalisation (containerd's reference/docker) is Go.
 */
export function normalizeImage(image: string): string {
  const slash = image.indexOf('/');
  const first = slash === -1 ? '' : image.slice(0, slash);
  let named = image;
  if (slash === -1) named = `docker.io/library/${image}`;
  else if (!first.includes('.') && !first.includes(':') && first !== 'localhost') named = `docker.io/${image}`;
  const lastComponent = named.slice(named.lastIndexOf('/') + 1);
  return named.includes('@') || lastComponent.includes(':') ? named : `${named}:latest`;
}

function object(value: unknown, field: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid(`${field} must be an object`);
  return value as Record<string, unknown>;
}

function text(value: unknown, field: string, maxLength: number, emptyAllowed = false): string {
  if (typeof value !== 'string' || (!emptyAllowed && value.length === 0)) throw invalid(`${field} must be a non-empty string`);
  if (value.length > maxLength) throw invalid(`${field} has ${value.length} characters, more than ${maxLength}`);
  return value;
}

const shown = (value: unknown): string => (typeof value === 'string' ? JSON.stringify(value.slice(0, 64)) : typeof value);
const invalid = (message: string) => new AdmissionReviewError('INVALID_ADMISSION_REVIEW', message);
const tooMany = (count: number) => new AdmissionReviewError('ADMISSION_TOO_MANY_IMAGES', `the object names ${count} images, more than ${MAX_ADMISSION_IMAGES}`);
