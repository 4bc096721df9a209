import { createRoot } from 'react-dom/client';
import { ProductPage } from './ProductPage.jsx';
import { PRODUCT, CATALOG, REVIEWS } from './data.js';

createRoot(document.getElementById('root')).render(<ProductPage product={PRODUCT} catalog={CATALOG} reviews={REVIEWS} />);
