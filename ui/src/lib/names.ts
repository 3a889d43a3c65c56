import type { ApiError } from './ipc/types';

/** The kinds of refusal that are about a first name (see NameProblem::code in Rust). */
const NAME_KINDS = new Set([
  'empty',
  'email',
  'title',
  'post_nominal',
  'digits',
  'emoji',
  'not_a_letter',
  'too_many_words',
]);

/** Whether an error belongs next to the first-name field. */
export function isNameError(e: ApiError): boolean {
  return NAME_KINDS.has(e.kind) || (e.kind === 'too_long' && /name/i.test(e.message));
}
