export default {
  build: {
    target: 'esnext',       // top-level await in the app and the package
    assetsInlineLimit: 0,   // wasm and model files stay files
  },
  worker: { format: 'es' },
};
