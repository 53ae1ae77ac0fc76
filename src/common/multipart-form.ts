import type { Multipart, MultipartFile } from '@fastify/multipart';
import type { FastifyRequest } from 'fastify';
import { ProblemError } from './problem';

/**
 * Reading a multipart/form-data request whose fields come first and whose one file comes last, streamed
 * (the .wasm of an upload, the source archive of a build): the parser's failures as problems that say
 * which limit or which order, and fields sent after the file refused rather than dropped.
 */
export interface FormShape {
  /** The file's field name. */
  fileField: string;
  /** What the file is, for messages ("the .wasm"). */
  fileDescription: string;
  /** The fields that must come before the file, for messages. */
  fieldsBeforeFile: string;
  /** Fields the form may have besides the file (the parser's limit), and in words. */
  maxFields: number;
  fieldsSummary: string;
}

/**
 * Reads a streamed form: its fields, then its one file, which `handle` consumes (given the fields, the
 * file part, and a check to call once the file has ended that refuses parts sent after it). The fields
 * in `requiredBeforeFile` must come before the file, since the file streams on at once. Whatever fails,
 * the rest of the body is read and dropped (the parser no longer reads it), so that a client still
 * sending it is not left blocked and gets the answer on its connection; and the failure is answered as a
 * form problem (a body that breaks off inside the file is MALFORMED_MULTIPART, not what it made fail).
 */
export async function readStreamedForm<T>(
  request: FastifyRequest,
  shape: FormShape,
  requiredBeforeFile: readonly string[],
  handle: (fields: Record<string, unknown>, file: MultipartFile, afterFile: () => Promise<void>) => Promise<T>,
): Promise<T> {
  try {
    const fields: Record<string, unknown> = {};
    const parts = formParts(request, shape);
    for await (const part of parts) {
      if (part.type === 'field') {
        fields[part.fieldname] = part.fieldname in fields ? [fields[part.fieldname], part.value] : part.value;
        continue;
      }
      if (part.fieldname !== shape.fileField) {
        part.file.resume();
        throw new ProblemError(
          400,
          'VALIDATION_FAILED',
          'The request is not valid',
          `file field "${part.fieldname}" is not known; send ${shape.fileDescription} as "${shape.fileField}"`,
        );
      }
      const missing = requiredBeforeFile.find((name) => fields[name] === undefined);
      if (missing !== undefined) {
        part.file.resume();
        throw formFieldOrderProblem(shape, missing);
      }
      let broken: Error | undefined;
      part.file.once('error', (error: Error) => (broken ??= error));
      return await handle(fields, part, () => refuseTrailingParts(parts, shape)).catch((error: unknown) => {
        throw broken ? malformedForm(broken) : error;
      });
    }
    throw new ProblemError(
      400,
      'VALIDATION_FAILED',
      'The request is not valid',
      `${shape.fileField}: is required (${shape.fileDescription}, as form field "${shape.fileField}" after the other fields)`,
      {
        errors: [{ field: shape.fileField, message: 'is required' }],
      },
    );
  } catch (error) {
    request.raw.unpipe();
    request.raw.resume();
    throw formProblem(error, shape);
  }
}

/** What to do about fields sent after the file. */
export const fieldOrderAdvice = (shape: FormShape) => `send ${shape.fieldsBeforeFile} before ${shape.fileField} (with curl, put -F ${shape.fileField}=@… last)`;

/** A form whose file came before a field that says where it goes. */
export const formFieldOrderProblem = (shape: FormShape, missing: string) =>
  new ProblemError(400, 'FORM_FIELD_ORDER', 'The form fields are out of order', `field "${shape.fileField}" came before "${missing}": ${fieldOrderAdvice(shape)}`);

/**
 * The form's parts, one at a time; a failure to read the next one (a body that is not multipart as its
 * Content-Type says, a broken part header, a body that ends inside the form) is the caller's: 400.
 */
export async function* formParts(request: FastifyRequest, shape: FormShape): AsyncGenerator<Multipart> {
  let parts: AsyncIterator<Multipart>;
  try {
    parts = request.parts()[Symbol.asyncIterator]();
  } catch (error) {
    throw formProblem(error, shape);
  }
  for (;;) {
    let next: IteratorResult<Multipart>;
    try {
      next = await parts.next();
    } catch (error) {
      throw formProblem(error, shape);
    }
    if (next.done) return;
    yield next.value;
  }
}

/**
 * A failure while reading a form, as the caller should see it: @fastify/multipart's limits in words that
 * say which limit and what to send instead, and anything the parser refused as a malformed form (400).
 * Problems pass unchanged.
 */
export function formProblem(error: unknown, shape: FormShape): unknown {
  if (error instanceof ProblemError) return error;
  const code = (error as { code?: unknown })?.code;
  switch (code) {
    case 'FST_FIELDS_LIMIT':
    case 'FST_PARTS_LIMIT':
      return new ProblemError(
        413,
        'TOO_MANY_FIELDS',
        'The form has too many fields',
        `a form may have at most ${shape.maxFields} fields besides "${shape.fileField}": ${shape.fieldsSummary}`,
        { maxFields: shape.maxFields },
      );
    case 'FST_FILES_LIMIT':
      return new ProblemError(413, 'TOO_MANY_FILES', 'The form has too many files', `a form carries one file, ${shape.fileDescription}, in field "${shape.fileField}"`);
    case 'FST_PROTO_VIOLATION':
      return new ProblemError(
        400,
        'VALIDATION_FAILED',
        'The request is not valid',
        'a form field is named after an object property (such as __proto__); use the documented field names',
      );
    case 'FST_INVALID_JSON_FIELD_ERROR':
      return new ProblemError(400, 'VALIDATION_FAILED', 'The request is not valid', 'a form field declared as application/json is not valid JSON; send fields as text');
    case 'FST_MP_PREMATURE_CLOSE':
      return new ProblemError(400, 'UPLOAD_ABORTED', 'The upload was interrupted', 'the request body ended before the form was complete');
    default:
      // What busboy throws has no code: every such error is about the body it was reading.
      return code === undefined && error instanceof Error ? malformedForm(error) : error;
  }
}

export const malformedForm = (error: Error) =>
  new ProblemError(
    400,
    'MALFORMED_MULTIPART',
    'The form is not well-formed multipart',
    `the multipart/form-data body could not be read (${error.message.slice(0, 200)}): send a boundary in Content-Type, and parts each with a Content-Disposition naming its field, closed by the final boundary`,
  );

/**
 * The parts of a form after its file: the file has streamed on by then, so a field sent after it could
 * not be applied. Rather than drop it silently, the upload is refused (nothing is
 * committed) with the order to send.
 */
export async function refuseTrailingParts(parts: AsyncGenerator<Multipart>, shape: FormShape): Promise<void> {
  const late: string[] = [];
  for await (const part of parts) {
    if (part.type === 'file') {
      part.file.resume();
      late.push(`${part.fieldname} (a second file)`);
    } else {
      late.push(part.fieldname);
    }
  }
  if (late.length > 0) {
    throw new ProblemError(
      400,
      'FORM_FIELD_ORDER',
      'The form fields are out of order',
      `field(s) ${late.map((name) => `"${name}"`).join(', ')} came after "${shape.fileField}": ${fieldOrderAdvice(shape)}`,
    );
  }
}
