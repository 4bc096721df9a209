// Vitrine's Trusted Types policy (web/src/trusted.js) with a stand-in for the browser's
// `trustedTypes` and `Worker`: worker URLs pass through the policy, the global Worker is restored,
// and URLs off Vitrine's own origin (blob:, data:, another site) are refused. (Under Node the
// module's origin is a file: URL, which the policy never vouches for; acceptance of same-origin
// http(s) URLs is exercised by the browser tests under the strict CSP.)
import { test } from 'node:test';
import assert from 'node:assert/strict';

const made = [];
globalThis.trustedTypes = {
  createPolicy(name, rules) {
    made.push(name);
    return { createScriptURL: (s) => ({ trusted: rules.createScriptURL(s) }) };
  },
};
class FakeWorker { constructor(url, options) { this.url = url; this.options = options; } }
globalThis.Worker = FakeWorker;
const { startWorker, trustedScriptUrl, TRUSTED_TYPES_POLICY } = await import('../../web/src/trusted.js');

test('worker URLs go through the policy named vitrine, and the global Worker is put back', () => {
  assert.equal(TRUSTED_TYPES_POLICY, 'vitrine');
  assert.throws(() => startWorker(() => new Worker(new URL('blob:http://x/1'), { type: 'module' })), /refuses blob:/);
  assert.equal(globalThis.Worker, FakeWorker, 'restored after a throw');
  for (const url of ['data:text/javascript,1', 'https://evil.example/worker.js', new URL('./worker.js', import.meta.url).href]) {
    assert.throws(() => trustedScriptUrl(url), /Vitrine's Trusted Types policy refuses/, url);
  }
  assert.deepEqual(made, ['vitrine'], 'one policy, made once');
  assert.throws(() => startWorker(() => new Worker('relative.js')), TypeError, 'no page URL to resolve against');
  assert.equal(globalThis.Worker, FakeWorker);
});
