import { toApiError } from './ipc';
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

/** What came of a request made under a first name (joining, or starting a workshop). */
export type Named<T> = { value: T | null; nameError: ApiError | null; error: ApiError | null };

/** Sends a request made under a first name. A refusal of the name comes back as `nameError`
 * (to show beside the name field, and move focus there), any other refusal as `error`. */
export async function sendNamed<T>(send: () => Promise<T>): Promise<Named<T>> {
  try {
    return { value: await send(), nameError: null, error: null };
  } catch (err) {
    const api = toApiError(err);
    return isNameError(api)
      ? { value: null, nameError: api, error: null }
      : { value: null, nameError: null, error: api };
  }
}
