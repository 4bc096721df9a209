// A product page with Vitrine: "recommended for you" from the shopper's views (kept on the device),
// "similar items" from the product photo, and a summary of the product's reviews. Each task runs in
// its own worker (the browser default), so rendering never waits on the engine.
import { useEffect, useState } from 'react';
import { createRecommender, createImageTagger, createReviewAnalyzer } from 'vitrine';

// One task for the component's life: created once, disposed on unmount (React 18+ may mount twice
// in development; the second task replaces the first).
function useTask(create, options) {
  const [task, setTask] = useState(null);
  useEffect(() => {
    let live = true;
    let made = null;
    create(options).then((t) => { made = t; if (live) setTask(t); else t.dispose(); });
    return () => { live = false; made?.dispose(); };
  }, []);
  return task;
}

export function ProductPage({ product, catalog, reviews }) {
  const recommender = useTask(createRecommender, { storage: 'auto' });
  const tagger = useTask(createImageTagger, { storage: 'memory' });
  const analyzer = useTask(createReviewAnalyzer, {});
  const [recommended, setRecommended] = useState(null);
  const [similar, setSimilar] = useState(null);
  const [summary, setSummary] = useState(null);

  useEffect(() => {  // this view joins the shopper's history; then their recommendations
    if (!recommender) return;
    recommender.observe({ item: product.id, event: 'view' })
      .then(() => recommender.recommend({ k: 6, explain: false }))
      .then(setRecommended);
  }, [recommender, product.id]);

  useEffect(() => {  // products that look like this one
    if (!tagger) return;
    tagger.addToCatalog(catalog.map(({ id, image }) => ({ id, image })))
      .then(() => tagger.similar(product.photo, 3))
      .then((hits) => setSimilar(hits.map((h) => catalog.find((c) => c.id === h.id))));
  }, [tagger]);

  useEffect(() => {  // what the reviews say
    if (analyzer) analyzer.summarize(reviews).then(setSummary);
  }, [analyzer]);

  return (
    <main>
      <h1>{product.title}</h1>
      <section aria-label="recommended for you">
        <h2>Recommended for you</h2>
        {recommended ? <ol id="recommended">{recommended.map((r) => <li key={r.id}>{r.id}</li>)}</ol> : <p>…</p>}
      </section>
      <section aria-label="similar items">
        <h2>Similar items</h2>
        {similar ? <ul id="similar">{similar.map((s) => <li key={s.id}>{s.title}</li>)}</ul> : <p>…</p>}
      </section>
      <section aria-label="reviews">
        <h2>What {summary?.count ?? reviews.length} shoppers say</h2>
        {summary ? (
          <p id="summary">{Math.round(100 * summary.positiveShare)}% positive
            {summary.praised.length > 0 && <> · praised: {summary.praised.join(', ')}</>}
            {summary.criticized.length > 0 && <> · criticized: {summary.criticized.join(', ')}</>}</p>
        ) : <p>…</p>}
      </section>
    </main>
  );
}
