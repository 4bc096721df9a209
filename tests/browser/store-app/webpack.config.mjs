// The same app (src/main.js) built by webpack 5 into dist/webpack/: ES module output (the app and
// the package use top-level await); webpack ships the package's wasm, glue and workers from its
// `new URL(..., import.meta.url)` references.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export default {
  mode: 'production',
  entry: './src/main.js',
  experiments: { outputModule: true },
  output: { path: path.join(here, 'dist/webpack'), filename: 'main.js', module: true, clean: true },
  performance: { hints: false },
  plugins: [{  // the page: index.html with the built entry
    apply: (compiler) => compiler.hooks.afterEmit.tap('index.html', () => fs.writeFileSync(path.join(here, 'dist/webpack/index.html'),
      fs.readFileSync(path.join(here, 'index.html'), 'utf8').replace('/src/main.js', './main.js'))),
  }],
};
