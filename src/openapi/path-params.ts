import { ApiParam } from '@nestjs/swagger';
import { MAX_ID_LENGTH } from '../common/field-limits';

/**
 * A path parameter holding an id this service issued (a UUID). Longer or other text is no id: the
 * repositories answer it as not found (404) without querying. Documented with its maximum length, as
 * every request field is.
 */
export const ApiUuidParam = (name = 'id') => ApiParam({ name, schema: { type: 'string', format: 'uuid', maxLength: MAX_ID_LENGTH } });
