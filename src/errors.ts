/**
 * One error class with string codes, so callers can branch on `err.code` without importing
 * a dozen classes. Static factories keep the messages in one place.
 */
export type SpydhtErrorCode =
  | 'DECODE_ERROR'
  | 'MESSAGE_TOO_LARGE'
  | 'WRONG_NETWORK'
  | 'REQUEST_TIMEOUT'
  | 'TOO_MANY_PENDING'
  /** A request was not sent: its address never proved it receives, and the bytes allowed there are spent. */
  | 'OVER_BUDGET'
  | 'ABORTED'
  | 'DEADLINE_EXCEEDED'
  | 'CLOSED'
  | 'NO_CONTACTS'
  | 'NOT_STORED'
  | 'STORAGE_FULL'
  | 'INVALID_RECORD'
  | 'INVALID_ARGUMENT'
  | 'NOT_OWNER'
  | 'BOOTSTRAP_FAILED'
  | 'MISSING_DEPENDENCY'
  /** putMutable with `cas`: the key's seq moved past `cas` (someone else wrote); read and retry. */
  | 'CAS_CONFLICT'
  /** putMutable with a `seq` not above the newest copy: the holders refuse it. */
  | 'STALE_SEQ';

export class SpydhtError extends Error {
  readonly code: SpydhtErrorCode;

  constructor(code: SpydhtErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SpydhtError';
    this.code = code;
  }

  static decode(message: string): SpydhtError {
    return new SpydhtError('DECODE_ERROR', message);
  }
  static tooLarge(size: number, max: number): SpydhtError {
    return new SpydhtError('MESSAGE_TOO_LARGE', `message of ${size} bytes exceeds the ${max}-byte cap`);
  }
  static timeout(what: string): SpydhtError {
    return new SpydhtError('REQUEST_TIMEOUT', `${what} timed out`);
  }
  static aborted(reason?: unknown): SpydhtError {
    return new SpydhtError('ABORTED', 'operation aborted', { cause: reason });
  }
  static deadline(): SpydhtError {
    return new SpydhtError('DEADLINE_EXCEEDED', 'operation passed its deadline');
  }
  static closed(): SpydhtError {
    return new SpydhtError('CLOSED', 'the node is closed');
  }
  static invalidArgument(message: string): SpydhtError {
    return new SpydhtError('INVALID_ARGUMENT', message);
  }
  static invalidRecord(message: string): SpydhtError {
    return new SpydhtError('INVALID_RECORD', message);
  }
}

export function isSpydhtError(err: unknown, code?: SpydhtErrorCode): err is SpydhtError {
  return err instanceof SpydhtError && (code === undefined || err.code === code);
}
