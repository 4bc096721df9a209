// What a store's page already has: the product, some catalogue photos and the product's reviews.
// (Photos are drawn here so the example needs no files; a store passes <img> elements or Blobs.)
function draw(shape, shade) {
  const data = new Uint8Array(28 * 28);
  for (let y = 0; y < 28; y++) for (let x = 0; x < 28; x++) {
    const inside = shape === 'shoe' ? y > 17 && y < 26 && x > 2 && x < 26 - (y < 21 ? 8 : 0)
      : shape === 'bag' ? y > 8 && y < 26 && x > 5 && x < 23 || (y > 3 && y <= 8 && (x === 9 || x === 19))
        : y > 2 && y < 26 && x > 7 && x < 21;  // trousers-like column
    if (inside) data[y * 28 + x] = shade;
  }
  return { data, width: 28, height: 28, format: 'gray' };
}
export const PRODUCT = { id: '2571', title: 'Trail runner', photo: draw('shoe', 210) };
export const CATALOG = [
  { id: 'sku-shoe-1', title: 'Road runner', image: draw('shoe', 180) },
  { id: 'sku-shoe-2', title: 'Court sneaker', image: draw('shoe', 240) },
  { id: 'sku-bag-1', title: 'Tote', image: draw('bag', 200) },
  { id: 'sku-bag-2', title: 'Backpack', image: draw('bag', 150) },
  { id: 'sku-pants-1', title: 'Chinos', image: draw('pants', 190) },
];
export const REVIEWS = [
  'Great shoes, very comfortable on long runs. Arrived quickly.',
  'Love the fit and the grip. Worth the price.',
  'Sole came apart after two weeks. Poor quality for the price.',
  'Comfortable and light, but the box arrived damaged.',
  'Perfect, my second pair!',
];
