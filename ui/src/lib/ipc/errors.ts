import type { ApiError } from './bindings/ApiError';

/** An error from the laptop, or about reaching it: always `{ kind, message }`. */
export class RequestError extends Error implements ApiError {
  readonly kind: string;
  constructor(kind: string, message: string) {
    super(message);
    this.kind = kind;
    this.name = 'RequestError';
  }
}

/** Whether something is ApiError-shaped. */
export function isApiError(value: unknown): value is ApiError {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { kind?: unknown }).kind === 'string' &&
    typeof (value as { message?: unknown }).message === 'string'
  );
}

/** Turns anything thrown into an ApiError with a message a person can read. */
export function toApiError(e: unknown): ApiError {
  if (isApiError(e)) return { kind: e.kind, message: e.message };
  return {
    kind: 'unexpected',
    message: 'Something went wrong on this screen. Please try again; your work on the laptop is safe.',
  };
}
