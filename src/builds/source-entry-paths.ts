import { SourceArchiveError } from './source-archive-errors';
import { quotedName } from './printable-text';

/** How long and deep an entry's path (or a link's target) may be. */
export interface EntryPathRules {
  maxPathBytes: number;
  maxDepth: number;
}

/** Linux's NAME_MAX: a longer component cannot be created at all. */
export const MAX_COMPONENT_BYTES = 255;

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/u;

/** Why `text` cannot be a name on disk (NUL, control characters, not UTF-8, too long), or undefined. */
function unwritable(text: string, maxBytes: number): string | undefined {
  if (text === '') return 'is empty';
  if (text.includes('\u0000')) return 'contains a NUL character';
  const control = CONTROL.exec(text);
  if (control) return `contains the control character U+${control[0].codePointAt(0)!.toString(16).padStart(4, '0')}`;
  // Decoders put U+FFFD where bytes are not UTF-8; a name that really holds it is refused the same way.
  if (text.includes('\ufffd')) return 'is not valid UTF-8';
  const bytes = Buffer.byteLength(text);
  if (bytes > maxBytes) return `is ${bytes} bytes long, more than the ${maxBytes} allowed`;
  return undefined;
}

/**
 * The components of an entry's path inside the tree, from the name the archive gives it: backslashes are
 * separators (zip tools on Windows write them), empty and `.` components are dropped. Refused: names that
 * are empty or hold NUL, control characters or bytes that are not UTF-8 (ARCHIVE_NAME_INVALID), absolute
 * names (`/x`, `\x`, `C:x`: ARCHIVE_ABSOLUTE_PATH), any `..` component (ARCHIVE_PATH_TRAVERSAL, even
 * one that would stay inside after normalisation: no tool needs it), names over maxPathBytes, deeper than
 * maxDepth or with a component over 255 bytes (ARCHIVE_NAME_INVALID). An empty result is the tree's root
 * (`./`), which only a directory entry may name.
 */
export function entryPathComponents(name: string, rules: EntryPathRules): string[] {
  const problem = unwritable(name, rules.maxPathBytes);
  if (problem) throw new SourceArchiveError('ARCHIVE_NAME_INVALID', `Entry ${quotedName(name)}: its name ${problem}`, { entry: name });
  const unified = name.replace(/\\/g, '/');
  if (unified.startsWith('/') || /^[A-Za-z]:/.test(unified)) {
    throw new SourceArchiveError('ARCHIVE_ABSOLUTE_PATH', `Entry ${quotedName(name)} has an absolute path; entries must be relative to the archive's top`, { entry: name });
  }
  const components = unified.split('/').filter((component) => component !== '' && component !== '.');
  if (components.includes('..')) {
    throw new SourceArchiveError('ARCHIVE_PATH_TRAVERSAL', `Entry ${quotedName(name)} has a ".." component; entries may not climb out of their directory`, { entry: name });
  }
  const long = components.find((component) => Buffer.byteLength(component) > MAX_COMPONENT_BYTES);
  if (long !== undefined) {
    throw new SourceArchiveError('ARCHIVE_NAME_INVALID', `Entry ${quotedName(name)}: a component of its name is longer than ${MAX_COMPONENT_BYTES} bytes`, { entry: name });
  }
  if (components.length > rules.maxDepth) {
    throw new SourceArchiveError('ARCHIVE_NAME_INVALID', `Entry ${quotedName(name)} is ${components.length} directories deep, more than the ${rules.maxDepth} allowed`, {
      entry: name,
    });
  }
  return components;
}

/**
 * Checks what can be checked of a symbolic link's target on its own: a printable relative path with `/`
 * separators, not too long, that does not climb above the archive's top from the link's directory
 * (`linkPath`'s parent) when read without following other links. Where the target leads through other
 * links is checked once every entry is known (source-links.ts).
 */
export function checkLinkTarget(name: string, linkPath: readonly string[], target: string, rules: EntryPathRules): void {
  const problem = unwritable(target, rules.maxPathBytes);
  if (problem) throw new SourceArchiveError('ARCHIVE_NAME_INVALID', `Symbolic link ${quotedName(name)}: its target ${problem}`, { entry: name });
  const refuse = (why: string) => new SourceArchiveError('ARCHIVE_LINK_ESCAPES', `Symbolic link ${quotedName(name)} -> ${quotedName(target)} ${why}`, { entry: name });
  if (target.startsWith('/') || /^[A-Za-z]:/.test(target)) throw refuse('is absolute; links must be relative and stay inside the tree');
  if (target.includes('\\')) throw refuse('holds a backslash; link targets must use "/" separators');
  let depth = linkPath.length - 1;
  for (const component of target.split('/')) {
    if (component === '..') depth--;
    else if (component !== '' && component !== '.') depth++;
    if (depth < 0) throw refuse('leaves the tree');
  }
}
