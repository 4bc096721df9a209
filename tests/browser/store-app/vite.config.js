// The app built by Vite 5 into dist/vite/; `vite build --ssr src/ssr.js` bundles the server side
// (vitrine included) into dist/ssr/.
export default {
  build: {
    outDir: 'dist/vite',
    target: 'esnext',       // top-level await in the app and the package
    assetsInlineLimit: 0,   // wasm and model files stay files
  },
  worker: { format: 'es' },
  ssr: { noExternal: ['vitrine'] },
};
