// Trusted Types: a page whose Content-Security-Policy says `require-trusted-types-for 'script'`
// only accepts script URLs made by a policy at its script-URL sinks (`new Worker(...)` among them).
// Vitrine starts workers (one per task, and the threaded variant's pthreads), so where the browser
// has Trusted Types it makes them through its own policy, named 'vitrine'. That policy vouches only
// for http(s) URLs on the origin of the page (or worker) that starts them, which is where a
// dedicated worker's script must come from anyway: never blob:, data: or another origin. (Not the
// origin of import.meta.url: webpack replaces that with the source file's file: URL.) A store whose CSP lists allowed policy names (`trusted-types ...`) adds `vitrine` to it;
// if the name is refused, URLs go to the sinks as plain strings (the page's default policy, if any,
// then decides).
export const TRUSTED_TYPES_POLICY = 'vitrine';

let policy;  // undefined: not made yet; null: no Trusted Types here, or the name was refused

function getPolicy() {
  if (policy !== undefined) return policy;
  policy = null;
  const tt = globalThis.trustedTypes;
  if (tt && typeof tt.createPolicy === 'function') {
    try {
      policy = tt.createPolicy(TRUSTED_TYPES_POLICY, {
        createScriptURL(input) {
          const here = globalThis.location?.origin;
          const url = new URL(input, globalThis.location?.href);
          if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.origin !== here) {
            throw new TypeError(`Vitrine's Trusted Types policy refuses ${url.href}: not on ${here}`);
          }
          return url.href;
        },
      });
    } catch {
      policy = null;  // the page's CSP does not allow the name
    }
  }
  return policy;
}

/** `url` as a TrustedScriptURL where Trusted Types exist (and our policy may be made), else as is. */
export function trustedScriptUrl(url) {
  const p = getPolicy();
  return p ? p.createScriptURL(String(url)) : url;
}

/**
 * Runs `start`, which must construct the worker as `new Worker(new URL('…', import.meta.url), …)`:
 * the one form bundlers (Vite, webpack 5) recognize and rewrite to the built worker's URL. Under
 * Trusted Types that URL still has to be vouched for, so for the duration of this synchronous call
 * the global `Worker` is a subclass that passes its URL through our policy first.
 */
export function startWorker(start) {
  const p = getPolicy();
  const Native = globalThis.Worker;
  if (!p || typeof Native !== 'function') return start();
  class TrustedWorker extends Native {
    constructor(url, options) { super(p.createScriptURL(String(url)), options); }
  }
  globalThis.Worker = TrustedWorker;
  try {
    return start();
  } finally {
    globalThis.Worker = Native;
  }
}
