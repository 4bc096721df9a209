// The same app (src/main.js) built by esbuild into dist/esbuild/. esbuild does not follow
// `new URL(..., import.meta.url)`, so the package is not bundled: `vitrine` stays an import of its
// own ES modules, served beside the app (its web/ and models/ folders copied to dist/esbuild/vitrine/),
// where its wasm, workers and models sit at the relative URLs it expects.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import * as esbuild from 'esbuild';

const here = path.dirname(fileURLToPath(import.meta.url));
const out = path.join(here, 'dist/esbuild');
fs.rmSync(out, { recursive: true, force: true });
const vitrineOutside = {
  name: 'vitrine-outside',
  setup(build) {
    build.onResolve({ filter: /^vitrine$/ }, () => ({ path: './vitrine/web/src/index.js', external: true }));
  },
};
await esbuild.build({
  entryPoints: [path.join(here, 'src/main.js')], bundle: true, format: 'esm', target: 'es2022', minify: true,
  outfile: path.join(out, 'main.js'), plugins: [vitrineOutside], logLevel: 'warning',
});
for (const dir of ['web/src', 'web/dist', 'models']) {
  fs.cpSync(path.join(here, 'node_modules/vitrine', dir), path.join(out, 'vitrine', dir), { recursive: true });
}
fs.copyFileSync(path.join(here, 'node_modules/vitrine/package.json'), path.join(out, 'vitrine/package.json'));
fs.writeFileSync(path.join(out, 'index.html'), fs.readFileSync(path.join(here, 'index.html'), 'utf8').replace('/src/main.js', './main.js'));
