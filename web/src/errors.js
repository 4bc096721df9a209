// Errors thrown by the facade. Every engine failure becomes a VitrineError (a real JS Error) whose
// message is the engine's own, and whose `code` names the category (see StatusCode in status.h).

export const STATUS_CODES = Object.freeze({
  1: 'InvalidArgument',
  2: 'OutOfRange',
  3: 'NotFound',
  4: 'DataLoss',
  5: 'Unimplemented',
  6: 'ResourceExhausted',
  7: 'Internal',
  8: 'FailedPrecondition',
  9: 'Cancelled',
});

export class VitrineError extends Error {
  /**
   * @param {string} message
   * @param {string} [code] e.g. 'InvalidArgument'
   */
  constructor(message, code = 'Internal') {
    super(message);
    this.name = 'VitrineError';
    this.code = code;
  }
}

/** Throws a VitrineError when an engine call returned a non-zero status. */
export function check(status, messageSource) {
  if (status === 0) return;
  const message = typeof messageSource === 'function' ? messageSource() : String(messageSource);
  throw new VitrineError(message || 'unknown engine error', STATUS_CODES[status] ?? 'Internal');
}
