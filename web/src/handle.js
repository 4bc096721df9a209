// The one base of every facade object that owns an engine handle (an Embind object): its lifetime,
// the disposed check and status checks live here once.
import { check, VitrineError } from './errors.js';

export class EngineObject {
  /** @param {string} what the object's name in messages ('tagger', 'model', ...) */
  constructor(what) {
    this._what = what;
    this._handle = null;
  }

  // The handle, or FailedPrecondition once disposed.
  _live() {
    if (!this._handle) throw new VitrineError(`${this._what} was disposed`, 'FailedPrecondition');
    return this._handle;
  }

  // Throws the engine's error for a non-zero status.
  _check(status) {
    check(status, () => this._handle?.lastError() ?? `${this._what} was disposed`);
  }

  // Releases the handle now; a second call, or any later call on the object, sees it disposed.
  _release() {
    const h = this._handle;
    this._handle = null;
    h?.delete();
  }
}

/**
 * A runtime, or a promise of one, as a promise. A task's factory reads its model while the engine
 * may still be starting; should the read fail first, the engine's own failure is not left
 * unhandled (whoever awaits the promise still sees it).
 */
export function engineOf(runtime) {
  const ready = Promise.resolve(runtime);
  ready.catch(() => {});
  return ready;
}
