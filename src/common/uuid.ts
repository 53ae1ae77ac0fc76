/** UUID checks for ids taken from callers, before they reach a `uuid` column (which would refuse them with an error). */

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const LOWER_CASE_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Any UUID text, either case. */
export const isUuid = (value: string): boolean => UUID.test(value);

/** A UUID as PostgreSQL prints it (lower case): what ids this service issued look like. */
export const isCanonicalUuid = (value: string): boolean => LOWER_CASE_UUID.test(value);
