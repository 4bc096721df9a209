// Server-side rendering: the page's modules imported on a server, where there is no window,
// document or Worker. Importing vitrine must not throw there; the models load in the browser.
import { createRecommender, simdSupported, TRUSTED_TYPES_POLICY } from 'vitrine';

export function render() {
  return `<section data-recommender="${typeof createRecommender}" data-simd="${simdSupported()}" ` +
         `data-policy="${TRUSTED_TYPES_POLICY}">Recommended for you: loading…</section>`;
}
