// Reading a store's export for `vitrine train recommend`: interaction events from CSV or JSON Lines
// and an optional product catalogue, streamed (10 M events stay in typed arrays, not objects).
// CSV quoting is parsed by csv-parse (BOM and CRLF handled); every row that cannot be used is
// reported with its line number and reason, and counted in the summary: nothing is dropped silently.
//
// Events: one per row, columns user,item[,event][,time][,weight] — by header name when the first
// row names at least `user` and `item` (any order, other columns ignored; an export's own names
// map onto these with `columns`, which then must be in the first row), else by position.
//   user, item  any string ids (trimmed; empty refused)
//   event       view | click | rate | cart | wishlist | purchase (default view); sets the default
//               weight (view 1 … purchase 3, as the browser's observe())
//   time        seconds or milliseconds since 1970, or an ISO 8601 date (a row without one takes
//               its row number, so give every row a time or none)
//   weight      a number; rows whose weight is below --min-weight (default: > 0) are ignored,
//               e.g. ratings below 4
import fs from 'node:fs';
import readline from 'node:readline';
import { parse } from 'csv-parse';
import { parse as parseSync } from 'csv-parse/sync';

export const EVENT_WEIGHTS = Object.freeze({ view: 1, click: 1, rate: 1, cart: 2, wishlist: 2, purchase: 3 });
const MAX_ID_BYTES = 256;

// A growable typed array.
class Column {
  constructor(Type) {
    this.Type = Type;
    this.data = new Type(1024);
    this.length = 0;
  }
  push(v) {
    if (this.length === this.data.length) {
      const next = new this.Type(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = v;
  }
  view() { return this.data.subarray(0, this.length); }
}

// Ids to dense indices.
export class IdMap {
  constructor() { this.index = new Map(); this.ids = []; }
  get(id) {
    let i = this.index.get(id);
    if (i === undefined) {
      i = this.ids.length;
      this.index.set(id, i);
      this.ids.push(id);
    }
    return i;
  }
}

function parseTime(value) {
  if (value === undefined || value === '') return null;
  const n = Number(value);
  if (Number.isFinite(n)) return n < 1e11 ? n * 1000 : n;  // seconds or milliseconds
  const t = Date.parse(value);
  return Number.isFinite(t) ? t : NaN;
}

/**
 * Reads events from `file` (.csv, .tsv or .jsonl/.ndjson). Returns { users: IdMap, items: IdMap,
 * user, item, time, weight (typed arrays, one entry per kept event), summary }.
 * onRefused({ line, reason }) is called for every refused row.
 */
export async function readEvents(file, { minWeight = null, columns: rename = {}, onRefused = () => {}, onProgress = () => {} } = {}) {
  // rename: { user: 'userId', item: 'movieId', ... } — the export's own column (or JSON key) names.
  const key = (k) => rename[k] ?? k;
  const users = new IdMap(), items = new IdMap();
  const user = new Column(Int32Array), item = new Column(Int32Array), time = new Column(Float64Array), weight = new Column(Float32Array);
  const summary = { rows: 0, kept: 0, refused: 0, belowMinWeight: 0, reasons: {} };
  const refuse = (line, reason) => {
    summary.refused++;
    summary.reasons[reason] = (summary.reasons[reason] ?? 0) + 1;
    onRefused({ line, reason });
  };
  const total = fs.statSync(file).size;
  const add = (line, r) => {
    summary.rows++;
    const u = typeof r.user === 'string' ? r.user.trim() : typeof r.user === 'number' ? String(r.user) : '';
    const it = typeof r.item === 'string' ? r.item.trim() : typeof r.item === 'number' ? String(r.item) : '';
    if (!u) return refuse(line, 'empty or missing user');
    if (!it) return refuse(line, 'empty or missing item');
    if (Buffer.byteLength(u) > MAX_ID_BYTES || Buffer.byteLength(it) > MAX_ID_BYTES) return refuse(line, `id longer than ${MAX_ID_BYTES} bytes`);
    const type = r.event === undefined || r.event === '' ? 'view' : String(r.event).trim().toLowerCase();
    if (!Object.hasOwn(EVENT_WEIGHTS, type)) return refuse(line, `unknown event type '${String(r.event).slice(0, 40)}'`);
    let w = EVENT_WEIGHTS[type];
    if (r.weight !== undefined && r.weight !== '') {
      w = Number(r.weight);
      if (!Number.isFinite(w)) return refuse(line, 'weight is not a number');
    }
    const t = parseTime(r.time === undefined ? undefined : String(r.time).trim());
    if (Number.isNaN(t)) return refuse(line, 'time is not a number or an ISO date');
    if (minWeight !== null ? w < minWeight : w <= 0) {
      summary.belowMinWeight++;
      return;
    }
    user.push(users.get(u));
    item.push(items.get(it));
    time.push(t === null ? summary.rows : t);
    weight.push(w);
    summary.kept++;
  };
  if (/\.(jsonl|ndjson)$/i.test(file)) {
    const input = fs.createReadStream(file);
    const rl = readline.createInterface({ input, crlfDelay: Infinity });
    let line = 0;
    for await (let text of rl) {
      line++;
      if (line === 1 && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      if (!text.trim()) continue;
      let r;
      try {
        r = JSON.parse(text);
      } catch {
        summary.rows++;
        refuse(line, 'not valid JSON');
        continue;
      }
      if (r === null || typeof r !== 'object' || Array.isArray(r)) {
        summary.rows++;
        refuse(line, 'not a JSON object');
        continue;
      }
      add(line, { user: r[key('user')], item: r[key('item')], event: r[key('event')], time: r[key('time')], weight: r[key('weight')] });
      if (line % 100000 === 0) onProgress(input.bytesRead, total);
    }
  } else {
    // Line by line, so that one bad row (say an unclosed quote) costs that row only: a quoted field
    // may not span lines in an events file. Lines without quotes are split directly; the others
    // go through csv-parse.
    const delimiter = /\.tsv$/i.test(file) ? '\t' : ',';
    const input = fs.createReadStream(file);
    const rl = readline.createInterface({ input, crlfDelay: Infinity });
    let columns = null;
    let line = 0;
    for await (let text of rl) {
      line++;
      if (line === 1 && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      if (!text.trim()) continue;
      let record;
      if (!text.includes('"')) {
        record = text.split(delimiter).map((f) => f.trim());
      } else {
        try {
          record = parseSync(text, { delimiter, trim: true, relax_column_count: true })[0] ?? [];
        } catch (e) {
          summary.rows++;
          refuse(line, `malformed CSV (${e.code ?? 'parse error'})`);
          continue;
        }
      }
      if (columns === null) {
        const names = record.map((c) => c.toLowerCase());
        if (names.includes(key('user').toLowerCase()) && names.includes(key('item').toLowerCase())) {
          columns = Object.fromEntries(['user', 'item', 'event', 'time', 'weight'].map((k) => [k, names.indexOf(key(k).toLowerCase())]));
          continue;
        }
        if (Object.keys(rename).length) throw new Error(`${file}: the first row has no columns named ${key('user')} and ${key('item')}`);
        columns = { user: 0, item: 1, event: 2, time: 3, weight: 4 };
      }
      const at = (k) => (columns[k] >= 0 ? record[columns[k]] : undefined);
      add(line, { user: at('user'), item: at('item'), event: at('event'), time: at('time'), weight: at('weight') });
      if (line % 100000 === 0) onProgress(input.bytesRead, total);
    }
  }
  onProgress(total, total);
  return { users, items, user: user.view(), item: item.view(), time: time.view(), weight: weight.view(), summary };
}

/**
 * A product catalogue (.csv with a header id[,title][,description][,categories][,year][,in_stock],
 * categories separated by '|'; or .json: an array of { id, title?, description?, categories?, year?,
 * inStock? }). Returns { items: [{ id, title?, description?, categories?, year?, inStock? }], summary }.
 */
export async function readCatalog(file, { onRefused = () => {} } = {}) {
  const items = [];
  const summary = { rows: 0, kept: 0, refused: 0 };
  const seen = new Set();
  const addItem = (line, r) => {
    summary.rows++;
    const id = r.id === undefined || r.id === null ? '' : String(r.id).trim();
    if (!id) { summary.refused++; return onRefused({ line, reason: 'empty or missing id' }); }
    if (seen.has(id)) { summary.refused++; return onRefused({ line, reason: `duplicate id '${id.slice(0, 40)}'` }); }
    seen.add(id);
    const out = { id };
    if (r.title) out.title = String(r.title);
    if (r.description) out.description = String(r.description);
    if (r.year !== undefined && r.year !== null && r.year !== '') {
      const year = typeof r.year === 'number' || (typeof r.year === 'string' && /^\s*-?\d{1,5}(\.\d*)?\s*$/.test(r.year)) ? Number(r.year) : NaN;
      if (!(Math.abs(year) <= 99999)) { summary.refused++; return onRefused({ line, reason: `year '${String(r.year).slice(0, 20)}' is not a year` }); }
      out.year = year;
    }
    const cats = Array.isArray(r.categories) ? r.categories.map(String) : r.categories ? String(r.categories).split('|').map((c) => c.trim()).filter(Boolean) : [];
    if (cats.length) out.categories = cats;
    const stock = r.inStock ?? r.instock ?? r.in_stock;
    if (stock !== undefined && stock !== '') out.inStock = !['0', 'false', 'no', 'n'].includes(String(stock).trim().toLowerCase());
    items.push(out);
    summary.kept++;
  };
  if (/\.json$/i.test(file)) {
    const data = JSON.parse(fs.readFileSync(file, 'utf8'));
    const list = Array.isArray(data) ? data : data.items;
    if (!Array.isArray(list)) throw new Error(`${file}: a catalogue JSON is an array of { id, ... } (or { items: [...] })`);
    list.forEach((r, i) => addItem(i + 1, r ?? {}));
  } else {
    const parser = fs.createReadStream(file).pipe(parse({ bom: true, columns: (h) => h.map((c) => c.trim().toLowerCase()), relax_column_count: true,
      skip_empty_lines: true, skip_records_with_error: true, info: true, trim: true }));
    parser.on('skip', (err) => { summary.rows++; summary.refused++; onRefused({ line: err.lines ?? 0, reason: `malformed CSV (${err.code})` }); });
    for await (const { record, info } of parser) addItem(info.lines, record);
  }
  return { items, summary };
}
