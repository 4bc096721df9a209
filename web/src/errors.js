// Errors thrown by the facade. Every engine failure becomes a VitrineError (a real JS Error) whose
// message is the engine's own, and whose `code` names the category (see StatusCode in status.h).

// The engine's status names by code, read from the wasm module when it loads (statusNames(), from
// status_code_name in C++), so that they are never mirrored by hand.
let statusNames = [];

/** @internal the loader passes the module's statusNames() once it is ready. */
export function useStatusNames(names) {
  statusNames = Array.from(names);
}

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
  throw new VitrineError(message || 'unknown engine error', statusNames[status] ?? 'Internal');
}
