export default {
  esbuild: { jsx: 'automatic' },  // React's JSX without a plugin
  build: { target: 'esnext', assetsInlineLimit: 0 },  // top-level await; wasm and models stay files
  worker: { format: 'es' },
};
