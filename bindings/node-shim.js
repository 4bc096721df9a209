// Placed at the top of the generated ES module (--extern-pre-js). Emscripten 3.1.6's Node code
// paths use CommonJS `require` and `__dirname`, which an ES module lacks: provide them under Node.
// Browsers and bundlers never take this branch.
var require, __dirname;
if (typeof process === 'object' && process.versions && process.versions.node) {
  const nodeModule = await import(/* @vite-ignore */ 'node:' + 'module');
  const nodeUrl = await import(/* @vite-ignore */ 'node:' + 'url');
  require = nodeModule.createRequire(import.meta.url);
  __dirname = nodeUrl.fileURLToPath(new URL('.', import.meta.url));
}
