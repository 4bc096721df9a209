// A recommender on an origin of its own: `createRecommender({ frame: 'https://reco.store.example/web/frame/index.html' })`
// loads that page (web/frame/index.html, hosted by the store on a separate origin) in a hidden
// iframe. The frame keeps the shopper's history in its own origin's storage and runs the engine in
// its own worker; the page and its other scripts exchange only events in and recommendations out
// over a MessageChannel (FRAME_METHODS): no exportState(), no importState(), so same-origin
// scripts of the storefront cannot read the history (see docs/privacy.md). The frame's host must
// send `Content-Security-Policy: frame-ancestors <the storefront's origins>`: that is what stops
// other sites from embedding it.
import { VitrineError } from './errors.js';

/** What a framed recommender answers: recommendations and the calls that feed them. */
export const FRAME_METHODS = Object.freeze(['info', 'itemIds', 'hasItem', 'observe', 'personalize', 'recommend', 'recommendFor',
                                            'rerank', 'similarItems', 'forget']);
/** Options the page may pass to the frame (cloneable values only). */
export const FRAME_OPTIONS = Object.freeze(['model', 'integrity', 'maxModelBytes', 'userKey', 'maxEvents', 'eventWeights', 'variant', 'threads']);

/** The page side: a hidden iframe, a MessageChannel, and one method per FRAME_METHODS entry. */
export class FramedRecommender {
  static async start(options) {
    if (typeof document === 'undefined' || typeof MessageChannel === 'undefined') {
      throw new VitrineError("frame: needs a page (document and MessageChannel); use it in a browser's window", 'FailedPrecondition');
    }
    let url;
    try {
      url = new URL(options.frame, globalThis.location?.href);
    } catch {
      throw new VitrineError(`frame: not a URL: ${options.frame}`, 'InvalidArgument');
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new VitrineError(`frame: must be an http(s) URL, got ${url.href}`, 'InvalidArgument');
    const init = {};
    for (const [k, v] of Object.entries(options)) {
      if (k === 'frame' || k === 'frameTimeoutMs' || k === 'worker' || k === 'onProgress' || v === undefined) continue;
      if (!FRAME_OPTIONS.includes(k)) throw new VitrineError(`frame: option '${k}' cannot be sent to the frame (allowed: ${FRAME_OPTIONS.join(', ')})`, 'InvalidArgument');
      init[k] = v instanceof URL ? v.href : v;
    }
    const timeoutMs = options.frameTimeoutMs ?? 30_000;
    if (!(Number.isFinite(timeoutMs) && timeoutMs > 0)) throw new VitrineError(`frameTimeoutMs must be a positive number, got ${timeoutMs}`, 'InvalidArgument');
    const iframe = document.createElement('iframe');
    iframe.hidden = true;
    iframe.title = 'recommendations';
    iframe.src = url.href;
    const channel = new MessageChannel();
    const framed = new FramedRecommender(iframe, channel.port1);
    try {
      await new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new VitrineError(`frame: ${url.href} did not answer in ${timeoutMs} ms ` +
          '(not reachable, or its frame-ancestors refuses this page)', 'NotFound')), timeoutMs);
        iframe.addEventListener('load', () => {
          // Only the frame's origin can receive the port.
          iframe.contentWindow.postMessage({ vitrine: 'connect' }, url.origin, [channel.port2]);
          framed._call('init', [init]).then((info) => { clearTimeout(timer); framed.runtimeInfo = info; resolve(); },
                                            (e) => { clearTimeout(timer); reject(e); });
        }, { once: true });
        document.body.append(iframe);
      });
    } catch (e) {
      framed._close();
      throw e;
    }
    return framed;
  }

  constructor(iframe, port) {
    this._iframe = iframe;
    this._port = port;
    this._pending = new Map();
    this._next = 1;
    port.onmessage = ({ data }) => {
      const p = this._pending.get(data?.id);
      if (!p) return;
      this._pending.delete(data.id);
      if (data.error) p.reject(new VitrineError(String(data.error.message), String(data.error.code ?? 'Internal')));
      else p.resolve(data.result);
    };
    for (const method of FRAME_METHODS) this[method] = (...args) => this._call('call', [method, args]);
  }

  _call(op, args) {
    if (!this._port) return Promise.reject(new VitrineError('recommender was disposed', 'FailedPrecondition'));
    const id = this._next++;
    return new Promise((resolve, reject) => {
      this._pending.set(id, { resolve, reject });
      try {
        this._port.postMessage({ id, op, args });
      } catch (e) {
        this._pending.delete(id);
        reject(new VitrineError(`cannot send to the frame: ${e.message}`, 'InvalidArgument'));
      }
    });
  }

  _close() {
    for (const p of this._pending.values()) p.reject(new VitrineError('recommender was disposed', 'FailedPrecondition'));
    this._pending.clear();
    this._port?.close();
    this._port = null;
    this._iframe?.remove();
    this._iframe = null;
  }

  /** Stops the frame's recommender and removes the frame. */
  async dispose() {
    if (!this._port) return;
    try {
      await this._call('dispose', []);
    } finally {
      this._close();
    }
  }
}

/**
 * The frame side (web/frame/index.html): accepts one connection from the page that embeds it, runs
 * a recommender in a worker of this origin, and answers FRAME_METHODS only.
 * @param {(options: object) => Promise<object>} create makes the recommender (createRecommender)
 */
export function serveFrame(create) {
  if (globalThis.parent === globalThis) return;  // opened on its own, not embedded
  // The embedding page's origin where the browser tells it (Chromium, WebKit); the frame's host
  // decides who may embed it (CSP frame-ancestors).
  const parentOrigin = globalThis.location.ancestorOrigins?.[0] ?? null;
  let connected = false;
  globalThis.addEventListener('message', (event) => {
    if (connected || event.source !== globalThis.parent || event.data?.vitrine !== 'connect' || !event.ports?.[0]) return;
    if (parentOrigin !== null && event.origin !== parentOrigin) return;
    connected = true;
    const port = event.ports[0];
    let rec = null;
    port.onmessage = async ({ data }) => {
      const { id, op, args } = data ?? {};
      try {
        let result = null;
        if (op === 'init') {
          if (rec) throw new VitrineError('already initialized', 'FailedPrecondition');
          const options = {};
          for (const k of FRAME_OPTIONS) if (args?.[0]?.[k] !== undefined) options[k] = args[0][k];
          rec = await create(options);
          result = rec.runtimeInfo ?? null;
        } else if (op === 'call') {
          const [method, params] = args ?? [];
          if (!FRAME_METHODS.includes(method)) throw new VitrineError(`the frame does not answer '${method}'`, 'FailedPrecondition');
          if (!rec) throw new VitrineError('not initialized', 'FailedPrecondition');
          result = await rec[method](...(Array.isArray(params) ? params : []));
        } else if (op === 'dispose') {
          await rec?.dispose();
          rec = null;
        } else {
          throw new VitrineError(`unknown operation '${op}'`, 'InvalidArgument');
        }
        port.postMessage({ id, result });
      } catch (e) {
        port.postMessage({ id, error: { message: e?.message ?? String(e), code: e?.code ?? 'Internal' } });
      }
    };
  });
}
