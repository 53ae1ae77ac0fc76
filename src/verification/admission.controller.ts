import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { ApiBadRequestResponse, ApiBody, ApiOkResponse, ApiOperation, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import { ALWAYS_AUDIT_ON_ANSWER, Authorize, CurrentCaller } from '../access/authorize';
import type { Caller } from '../access/caller';
import { ProblemDto } from '../common/problem.dto';
import { EXAMPLES } from '../openapi/examples';
import { MAX_ADMISSION_IMAGES, MAX_NAME_LENGTH, MAX_UID_LENGTH, type AdmissionReviewAnswer } from './admission-review';
import { AdmissionService } from './admission.service';

const REVIEW_SCHEMA = {
  type: 'object',
  required: ['apiVersion', 'kind', 'request'],
  properties: {
    apiVersion: { type: 'string', enum: ['admission.k8s.io/v1'] },
    kind: { type: 'string', enum: ['AdmissionReview'] },
    request: {
      type: 'object',
      required: ['uid', 'kind', 'operation'],
      properties: {
        uid: { type: 'string', maxLength: MAX_UID_LENGTH },
        kind: {
          type: 'object',
          properties: {
            group: { type: 'string', maxLength: MAX_NAME_LENGTH },
            version: { type: 'string', maxLength: MAX_NAME_LENGTH },
            kind: { type: 'string', maxLength: MAX_NAME_LENGTH },
          },
        },
        operation: { type: 'string', maxLength: MAX_NAME_LENGTH, examples: ['CREATE', 'UPDATE', 'DELETE', 'CONNECT'] },
        object: {
          type: 'object',
          additionalProperties: true,
          description: 'The Pod, pod-template workload or SpinApp (other kinds are allowed untouched); its image references are at most 1024 characters',
        },
      },
    },
  },
};

const ANSWER_SCHEMA = {
  type: 'object',
  properties: {
    apiVersion: { type: 'string', enum: ['admission.k8s.io/v1'] },
    kind: { type: 'string', enum: ['AdmissionReview'] },
    response: {
      type: 'object',
      required: ['uid', 'allowed'],
      properties: {
        uid: { type: 'string', description: 'request.uid, echoed' },
        allowed: { type: 'boolean' },
        status: {
          type: 'object',
          description: 'When denied: code 403 and one line per failing image, `<image>: <code>: <message>`',
          properties: { code: { type: 'integer', enum: [403] }, message: { type: 'string' } },
        },
        warnings: { type: 'array', items: { type: 'string' }, description: 'The digest each tag named (`<image> is <repo>@sha256:…`) and images no pattern covers' },
      },
    },
  },
};

@ApiTags('verifications')
@Controller('v1/admission')
export class AdmissionController {
  constructor(private readonly admission: AdmissionService) {}

  @Authorize('verifications:write', { rateLimit: 'verifications', auditOnAnswer: ALWAYS_AUDIT_ON_ANSWER })
  @Post()
  @HttpCode(200)
  @ApiOperation({
    summary: 'Kubernetes validating admission webhook for wasm workloads',
    description: `Takes an AdmissionReview (admission.k8s.io/v1) for a Pod (images of containers, initContainers and ephemeralContainers), a workload with a pod template (Deployment, ReplicaSet, StatefulSet, DaemonSet, Job, CronJob, ReplicationController, PodTemplate: the same lists in its template) or a SpinKube SpinApp (\`spec.image\`) and judges each image against the cluster policy of ADMISSION_POLICY_FILE (read again when it changes; an invalid new version leaves the last good policy in force): the first rule whose pattern matches the image's repository verifies it (a tag resolved to its digest) as POST /v1/verifications does. Any failing image (unsigned, not satisfying the policy, registry unreachable) denies the object; an image no pattern covers is admitted with a warning. Other kinds and DELETE are allowed untouched. At most ${MAX_ADMISSION_IMAGES} images per object. Without ADMISSION_POLICY_FILE every review is refused with 503 ADMISSION_POLICY_MISSING, so a cluster pointed here fails closed. See docs/kubernetes/admission.md.`,
  })
  @ApiBody({
    schema: REVIEW_SCHEMA,
    examples: {
      pod: {
        summary: "A Pod running the README's component (npm run dev's ADMISSION_POLICY_FILE covers the registry's demo/**)",
        value: {
          apiVersion: 'admission.k8s.io/v1',
          kind: 'AdmissionReview',
          request: {
            uid: '705ab4f5-6393-11e8-b7cc-42010a800002',
            kind: { group: '', version: 'v1', kind: 'Pod' },
            operation: 'CREATE',
            object: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'hello' }, spec: { containers: [{ name: 'hello', image: EXAMPLES.reference }] } },
          },
        },
      },
    },
  })
  @ApiOkResponse({ schema: ANSWER_SCHEMA, description: 'The AdmissionReview answer (allowed or denied)' })
  @ApiBadRequestResponse({
    type: ProblemDto,
    description: 'INVALID_ADMISSION_REVIEW (not an AdmissionReview v1, no uid, object not an object, over-long fields), ADMISSION_TOO_MANY_IMAGES',
  })
  @ApiServiceUnavailableResponse({ type: ProblemDto, description: 'ADMISSION_POLICY_MISSING: ADMISSION_POLICY_FILE is not set' })
  review(@Body() body: unknown, @CurrentCaller() caller: Caller): Promise<AdmissionReviewAnswer> {
    return this.admission.review(body, caller);
  }
}
