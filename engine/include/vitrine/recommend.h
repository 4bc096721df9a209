// Recommendation on the device: compact item tables, SIMD top-k, and the recommender models
// (Mult-DAE, matrix factorization, GRU4Rec) reduced to one form for ranking:
//
//   score(item i) = <table row i, user vector> + bias[i]
//
// where the user vector comes from folding the shopper's history into the model ("fold-in"):
// an encoder pass (Mult-DAE; linear without activation), gradient steps on a user embedding with the item embeddings frozen
// (matrix factorization), or the final state of a GRU run over the history (GRU4Rec).
//
// Everything here is deterministic and platform-independent: fold-in and scoring use the engine's
// own loops (fixed summation order, no fused multiply-add, own exp/tanh/sigmoid), so a native
// build and the wasm builds rank identically, bit for bit.
//
// Model files (model_file.h) carry the metadata entry "recommender", a JSON object:
//   {"kind": "mult-dae" | "mf-bpr" | "gru4rec" | "linear" | "blend", "items": ["id", ...], ...kind-specific settings}
// and the constants named below per kind. The graph itself is the training graph (runnable with
// vitrine-run); the recommender reads the constants it needs.
//   mult-dae: enc.w (H, I), enc.b (H), dec.w (I, H), dec.b (I)
//   mf-bpr:   item.emb (I, D), item.bias (I), optional user.mean (D) (the vector of an empty
//             history); settings "fold_in": {"epochs", "lr", "l2", "negatives"}
//   gru4rec:  item.emb (I, E), gru.w_ih (3H, E), gru.w_hh (3H, H), gru.b_ih (3H), gru.b_hh (3H),
//             out.w (I, H), out.b (I)   (PyTorch gate order r, z, n; linear before reset)
//   linear:   dec.w (I, D), dec.b (I), fold.scale (I): user = sum over the history of
//             weight * fold.scale[item] * dec.w[item] (no normalization, no activation): an
//             item-item model (EASE-class, recommend_train.h) as one table; its fold-in rows
//             (fold_dim 1) are the scales
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "vitrine/context.h"
#include "vitrine/json.h"
#include "vitrine/model_file.h"
#include "vitrine/status.h"

namespace vitrine {

// Storage of an item table's rows.
enum class TablePrecision {
  kF32,   // 4 bytes per value
  kF16,   // 2 bytes per value (IEEE half, round to nearest even)
  kInt8,  // 1 byte per value + one f32 scale per row (symmetric: value = q * scale); scored in
          // exact integer arithmetic against the user vector quantized to int16; d <= 2048
  kPQ,    // product quantization: each row cut into m sub-vectors (dimensions [j*d/m, (j+1)*d/m)),
          // each stored as one byte naming one of 256 centroids of its sub-space: m bytes per row
          // plus a 256 x d codebook; scored by table lookups (one 256-entry table of
          // <centroid, user sub-vector> per sub-space). Made by k-means (build_pq), never by
          // parse_precision: only compact model files hold it.
};
Result<TablePrecision> parse_precision(const std::string& name);  // "f32" | "f16" | "int8"
const char* precision_name(TablePrecision p);

// One ranked item.
struct ScoredItem {
  int32_t item;
  float score;
};

// n item vectors of dimension d, stored compactly; scores are computed against f32 user vectors.
class ItemTable {
 public:
  ItemTable() = default;
  // Copies and converts `rows` (n, d) row-major. Refuses non-finite values and empty dimensions.
  static Result<ItemTable> build(const float* rows, int64_t n, int64_t d, TablePrecision precision);
  // An f32 table stored row by row (as after store_by_rows()) that takes `rows` (n, d) row-major
  // over without copying them: what build() then store_by_rows() give, in one pass.
  static Result<ItemTable> f32_by_rows(std::vector<float> rows, int64_t n, int64_t d);

  // Product quantization of `rows` (n, d) with m sub-spaces (1 <= m <= d, m <= 4096): k-means
  // (256 centroids, k-means++ seeding from `seed`, Lloyd iterations) on at most `sample` rows,
  // then every row coded by its nearest centroids. With `half`, centroids are rounded to F16
  // before coding (what a half-precision file stores). Deterministic for a given input.
  static Result<ItemTable> build_pq(const float* rows, int64_t n, int64_t d, int64_t m, uint32_t seed = 1,
                                    int64_t sample = 16384, int iterations = 20, bool half = false);
  // A PQ table from its parts: codes (n, m) and the codebook (256 x d, sub-space j's centroid c at
  // [256 * begin_j + c * width_j, ...)); InvalidArgument for sizes that disagree or non-finite values.
  static Result<ItemTable> from_pq(int64_t n, int64_t d, int64_t m, std::vector<uint8_t> codes, std::vector<float> codebook);
  // An int8 table from its parts: q (n, d) and scales (n, finite, > 0).
  static Result<ItemTable> from_int8(int64_t n, int64_t d, std::vector<int8_t> q, std::vector<float> scales);
  // Other rows (n, d) in this table's storage: the same precision; PQ rows coded with this
  // table's codebook (new items of a PQ catalogue keep its centroids).
  Result<ItemTable> with_rows(const float* rows, int64_t n) const;

  int64_t size() const { return n_; }
  int64_t dim() const { return d_; }
  TablePrecision precision() const { return precision_; }
  size_t bytes() const;  // memory held by the rows (and scales, codes, codebook, bounds)
  // Stored parts, for writing compact files.
  int64_t pq_m() const { return pq_m_; }
  const std::vector<uint8_t>& pq_codes() const { return codes_; }
  const std::vector<float>& pq_codebook() const { return codebook_; }
  std::vector<int8_t> int8_values() const;  // (n, d), row by row
  const std::vector<float>& int8_scales() const { return scales_; }

  // out[i - begin] = <row i, user> (+ bias[i] when bias is non-null) for i in [begin, end).
  void score(const float* user, const float* bias, float* out, int64_t begin, int64_t end) const;
  // out[j] = <row items[j], user> (+ bias) for j < count (valid indices): a list of rows, with the
  // same arithmetic as score().
  void score_items(const float* user, const float* bias, const int32_t* items, int64_t count, float* out) const;
  // The k best rows by <row i, user> + bias[i] (bias may be null), skipping rows with
  // excluded[i] != 0 (excluded may be null) and NaN scores: exactly top_k() of score() over all rows.
  // A PQ table with bounds (add_bounds()) looks up only the rows whose bound can enter the top k.
  std::vector<ScoredItem> top(const float* user, const float* bias, int64_t k, const uint8_t* excluded) const;
  // For PQ tables of m <= 256 sub-spaces (others: no-op): groups each sub-space's 256 centroids
  // into 32 (k-means) and stores every row's group per sub-space (n * m bytes, in panels of 16 rows),
  // from which top() bounds 16 rows at once: the sum over sub-spaces of the best score in the row's
  // groups, quantized upward to 8 bits and summed with SIMD byte shuffles. Kept by with_rows().
  void add_bounds();
  bool has_bounds() const { return !gcodes_.empty(); }
  // Row i as f32 (dequantized) into out (d floats).
  void row(int64_t i, float* out) const;
  // Cosine similarity of rows a and b (0 when either is all zero).
  float cosine(int64_t a, int64_t b) const;
  float norm(int64_t i) const { return norms_[static_cast<size_t>(i)]; }

  // Rows are stored in panels of kPanel items, dimension-major inside a panel (int8: two
  // dimensions at a time; see recommend.cc); the last panel is padded with zero rows.
  static constexpr int64_t kPanel = 16;
  // Stores the rows row by row instead (same values and results; whole-table scoring item by item):
  // for tables read a row at a time (fold-in rows), where a panel column costs d cache lines.
  void store_by_rows();

 private:
  bool panels_ = true;  // false after store_by_rows(): (n, d) row-major
  static int64_t panels(int64_t n) { return (n + kPanel - 1) / kPanel; }
  // Index of (item i, dimension j) in f32_ / f16_.
  size_t at(int64_t i, int64_t j) const {
    return static_cast<size_t>(panels_ ? ((i / kPanel) * d_ + j) * kPanel + i % kPanel : i * d_ + j);
  }
  // Index of (item i, dimension j) in i8_: (panel, ceil(d / 2), kPanel, 2).
  size_t at8(int64_t i, int64_t j) const {
    return static_cast<size_t>(panels_ ? (((i / kPanel) * ((d_ + 1) / 2) + j / 2) * kPanel + i % kPanel) * 2 + j % 2
                                       : i * d_ + j);
  }
  int64_t n_ = 0, d_ = 0;
  TablePrecision precision_ = TablePrecision::kF32;
  std::vector<float> f32_;
  std::vector<uint16_t> f16_;
  std::vector<int8_t> i8_;
  std::vector<float> scales_;  // int8: per row
  int64_t pq_m_ = 0;
  std::vector<uint8_t> codes_;    // pq: (n, m)
  std::vector<float> codebook_;   // pq: 256 x d, by sub-space
  std::vector<uint8_t> groups_;   // pq bounds: (m, 256) group of each centroid, < 32
  std::vector<uint8_t> gcodes_;   // pq bounds: (panels, m, kPanel) group of each row's code
  std::vector<float> norms_;   // L2 norm of each (stored, dequantized) row
  void finish();               // computes norms_
  std::vector<float> pq_lut(const float* user) const;  // (m, 256): <centroid, user sub-vector>
  void fill_group_codes();                             // gcodes_ from codes_ and groups_
  template <typename ItemAt>
  void score_rows(const float* user, const float* bias, int64_t count, ItemAt item_at, float* out) const;
};

// The k best of scores[0..n) in descending score order (ties: lower index first), skipping items
// with excluded[i] != 0 (excluded may be null) and NaN scores. Fewer than k when fewer remain.
// Blocks of 16 scores whose maximum cannot enter the current top-k are skipped with SIMD compares.
std::vector<ScoredItem> top_k(const float* scores, int64_t n, int64_t k, const uint8_t* excluded);

// Maximal marginal relevance re-ranking (Carbonell & Goldstein 1998): greedily picks k of the
// candidates maximizing  (1 - diversity) * relevance - diversity * max cosine to those picked,
// relevance being the candidate's score min-max scaled to [0, 1] over the candidates.
// diversity in [0, 1]; 0 keeps the candidates' order.
std::vector<ScoredItem> mmr(const std::vector<ScoredItem>& candidates, const ItemTable& table, int64_t k,
                            double diversity);

// Deterministic, platform-independent elementwise functions (max error ~2 ulp of float), used by
// the fold-in so that every build computes the same bits.
float portable_exp(float x);
float portable_tanh(float x);
float portable_sigmoid(float x);

// One past event of the shopper: an item index and a weight (> 0; e.g. 1 view, 3 purchase).
struct HistoryEvent {
  int32_t item;
  float weight = 1.0f;
};

struct ItemDelta;

// What a store knows about a product besides its interactions: enough to place a new product in
// the model without retraining (cold start).
struct ItemContent {
  std::string id;
  std::string title, description;       // free text (tokenize() of text.h: words, CJK, emoji)
  std::vector<std::string> categories;  // category / brand / tag names
  double year = std::numeric_limits<double>::quiet_NaN();  // release year, when it has one
};
// [{"id", "title"?, "description"?, "categories"?: [...], "year"?}] or {"items": [...]} (a catalogue
// file); InvalidArgument naming the bad entry.
Result<std::vector<ItemContent>> parse_item_content(const JsonRef& list);

// A linear map from an item's content to its per-item model parameters (score row, bias, fold-in
// row): hashed sparse features (words of the title and description: the title's first 32 and the
// description's first 48, "t:", and the adjacent pairs within each, "b:"; the first 16 distinct
// categories "c:" and their pairs "cc:"; the year, its half-decade and decade; each group scaled to unit norm, plus a
// constant) times W ((buckets + 1) x outputs), fitted by ridge regression on the trained items
// (content -> collaborative space). A new item's vector is its prediction. Files record the
// feature set (kFeatures) and are refused by a build with another.
class ContentMap {
 public:
  static constexpr int64_t kDefaultBuckets = 2048;
  static constexpr int64_t kFeatures = 2;  // the feature set's version (1: words, categories, decade)
  // Fits on items with targets y (items.size() x outputs, row-major); lambda > 0, or 0 to choose
  // it among {1, 3, 10, 30, 100} by the error on every tenth item held out, then refit on all.
  static Result<ContentMap> fit(const std::vector<ItemContent>& items, const float* y, int64_t outputs,
                                int64_t buckets = kDefaultBuckets, double lambda = 0);
  // From stored weights ((buckets + 1) x outputs, finite).
  static Result<ContentMap> from_weights(int64_t buckets, int64_t outputs, std::vector<float> w, double lambda);
  // The sparse features of one item: (bucket, value), the constant last (index buckets).
  std::vector<std::pair<int32_t, float>> features(const ItemContent& item) const;
  void predict(const ItemContent& item, float* out) const;  // outputs() values
  int64_t buckets() const { return buckets_; }
  int64_t outputs() const { return outputs_; }
  double lambda() const { return lambda_; }
  const std::vector<float>& weights() const { return w_; }

 private:
  int64_t buckets_ = 0, outputs_ = 0;
  double lambda_ = 0;
  std::vector<float> w_;
};

// A recommender model ready for fold-in and ranking.
class RecModel {
 public:
  // Reads the "recommender" metadata and constants of a loaded model file; the item table (the
  // rows that scores are computed against) is stored with `precision`.
  static Result<std::unique_ptr<RecModel>> create(const LoadedModel& model, TablePrecision precision);
  // Reads either form of recommender file: a model file (create) or a compact file
  // (save_compact). A compact file's int8 / PQ tables stay as stored; its float tables take
  // `precision`. Errors name the field (DataLoss for a damaged file).
  static Result<std::unique_ptr<RecModel>> load(std::shared_ptr<const std::vector<uint8_t>> bytes, TablePrecision precision);

  // A model over a raw item table (kind "table"): rows (n, d), bias (n) or null, and item ids
  // (empty: the ids are the decimal indices "0".."n-1"). Its fold-in is the weighted mean of the
  // history's rows. For catalogues embedded elsewhere, and for benchmarks.
  static Result<std::unique_ptr<RecModel>> from_table(std::vector<std::string> item_ids, const float* rows,
                                                      int64_t n, int64_t d, const float* bias,
                                                      TablePrecision precision);

  // A blend (kind "blend") of a linear model and a Mult-DAE over the same items in the same order:
  //   score = w_linear * linear score + w_dae * Mult-DAE score
  // as one model of width D + H: table rows [linear row | dae row], fold-in rows [linear scale |
  // dae encoder row], bias w_linear * b + w_dae * b', the user vector [w_linear * u ; w_dae * u'].
  // Weights in [0, 1e30], not both 0. InvalidArgument for other kinds or item lists that differ.
  // The weights are part of the model's fingerprint: deltas between blends need equal weights.
  // Blends live in compact files only (save_compact; their "recommender" metadata carries
  // "blend": {"linear_dim", "weights"}).
  static Result<std::unique_ptr<RecModel>> blend(const RecModel& linear, const RecModel& dae, double w_linear, double w_dae);

  const std::string& kind() const { return kind_; }
  // A blend's linear width and its weights (0: linear, 1: Mult-DAE); 0 for other kinds.
  int64_t blend_linear_dim() const { return blend_linear_dim_; }
  double blend_weight(int part) const { return blend_w_[part == 0 ? 0 : 1]; }
  int64_t num_items() const { return table_.size(); }
  int64_t dim() const { return table_.dim(); }
  std::string item_id(int64_t index) const;
  // The item's index, or NotFound naming the id.
  Result<int32_t> find_item(const std::string& id) const;
  const ItemTable& table() const { return table_; }
  // Memory held by fold-in weights + item table + ids, in bytes.
  size_t bytes() const;

  // The user vector (dim() floats) for a history, oldest event first. Items must be valid indices
  // and weights finite and > 0 (InvalidArgument naming the event otherwise). An empty history gives
  // the model's answer for a user it knows nothing about.
  Status fold_in(const std::vector<HistoryEvent>& history, std::vector<float>* user) const;

  // scores[i] for every item (num_items() floats), split over ctx's threads when ctx is non-null.
  void score(const float* user, float* scores, Context* ctx) const;
  // The k best items by score() (top_k's order and rules; excluded may be null), scored tile by
  // tile over ctx's threads without holding every score: what ranking the whole catalogue needs.
  std::vector<ScoredItem> top_scored(const float* user, int64_t k, const uint8_t* excluded, Context* ctx) const;
  // out[j] = score of items[j] (valid indices) for j < count: a page's candidate list only.
  void score_items(const float* user, const int32_t* items, int64_t count, float* out) const;

  // Length of the per-item fold-in rows: the encoder row of each item (mult-dae), its input
  // embedding (gru4rec), its scale (linear, 1); 0 when the fold-in reads the table rows alone (mf-bpr, table).
  int64_t fold_dim() const;
  // 64-bit fingerprint (FNV-1a) of the kind, the dimensions and the item ids in order: the model
  // state an item delta is made against and must lead to.
  uint64_t fingerprint() const;
  // Applies an item delta (see ItemDelta): removes, changes and appends items in place. Checked
  // whole before anything changes: FailedPrecondition when it was made for another model state
  // (fingerprint), InvalidArgument for shapes, unknown removals, duplicate or non-finite entries,
  // DataLoss when the result is not the state the delta promises. On error nothing changed.
  Status apply_delta(const ItemDelta& delta);
  // Every item's parameters as f32 (dequantized table rows, bias, fold-in rows), for deltas.
  void item_params(int64_t i, float* row, float* bias, float* fold) const;
  const ItemTable& fold_table() const { return fold_; }

  // Cold start: fits the content map of this model's items that appear in `catalogue` (ids it
  // lacks are ignored; at least 20 items must match). Replaces any map it had.
  Status fit_content(const std::vector<ItemContent>& catalogue, int64_t buckets = ContentMap::kDefaultBuckets,
                     double lambda = 0);
  const ContentMap* content() const { return content_.get(); }
  // Adds new items placed by their content (no retraining): each gets the content map's predicted
  // score row, bias and fold-in row and is ranked like a trained item from then on (appended in
  // order). FailedPrecondition without a content map; InvalidArgument for ids the model has or
  // repeats. On error nothing changed.
  Status add_items(const std::vector<ItemContent>& items);

  // A compact file of this model: only what ranking on the device reads (no training graph), the
  // score rows and fold-in rows stored as `rows` / `fold` say. Loaded back by load().
  //   metadata "recommender" (as in model files, items as now) and "recommender_storage":
  //     {"rows": "float"|"int8"|"pq", "rows_m": m, "fold": ..., "fold_m": m}
  //   tensors per table T ("rows", "fold"): float: T (I, D); int8: T.q (I, D) I8 + T.scale (I);
  //     pq: T.codes (I, m) U8 + T.codebook (256 * D); then "bias" (I) and the kind's own:
  //     mult-dae "enc.b" (H); mf-bpr "user.mean" (D, optional); gru4rec "gru.w_ih_t" (E, 3H),
  //     "gru.w_hh_t" (H, 3H), "gru.b_ih" (3H), "gru.b_hh" (3H).
  // With `half`, every float value is stored as F16 (PQ centroids rounded before coding).
  struct CompactOptions {
    TablePrecision rows = TablePrecision::kF32;  // kF32 (float) | kInt8 | kPQ
    int64_t rows_m = 16;                         // PQ sub-spaces of the score rows
    TablePrecision fold = TablePrecision::kF32;
    int64_t fold_m = 16;
    bool half = true;
    uint32_t seed = 1;
  };
  Result<std::vector<uint8_t>> save_compact(const CompactOptions& options) const;
  // Compact options from storage names as the tools and the CLI write them: rows and fold each
  // "float" | "int8" | "pq:M"; floats as F16 when half. InvalidArgument naming a bad name.
  static Result<CompactOptions> compact_options(const std::string& rows, const std::string& fold, bool half);

  // The items most similar to `item` by cosine of their table rows (the item itself excluded).
  std::vector<ScoredItem> similar_items(int32_t item, int64_t k, const uint8_t* excluded) const;

  // "Because you viewed X": the history item most similar to `item` (cosine of table rows, ties:
  // the most recent), with that similarity; item -1 when the history is empty.
  ScoredItem explain(int32_t item, const std::vector<HistoryEvent>& history) const;

 private:
  RecModel() = default;
  static Result<std::unique_ptr<RecModel>> from_metadata(const std::string& json);
  static Result<std::unique_ptr<RecModel>> load_compact(const class SafetensorsFile& file, TablePrecision precision);
  std::string kind_;
  std::string meta_json_;  // the "recommender" metadata as read (items replaced when saved)
  std::shared_ptr<const ContentMap> content_;  // cold start, when fitted or stored
  std::string content_refused_;  // why a stored content map was left out at load (addItems says so)
  std::vector<std::string> item_ids_;
  std::unordered_map<std::string, int32_t> index_;
  ItemTable table_;
  std::vector<float> bias_;  // (I)
  // Per-item fold-in rows (I, F): the encoder row of each item (mult-dae, F = H), its scale (linear, F = 1), its input
  // embedding (gru4rec, F = E); empty for the other kinds.
  ItemTable fold_;
  // mult-dae: encoder bias (H)
  std::vector<float> enc_b_;
  // mf-bpr fold-in settings
  int64_t mf_epochs_ = 0, mf_negatives_ = 1;
  double mf_lr_ = 0, mf_l2_ = 0;
  std::vector<float> mf_user_mean_;  // optional "user.mean" (D): the empty history's vector
  // blend: the width of the linear part of the rows (the rest is the Mult-DAE's) and the weights
  int64_t blend_linear_dim_ = 0;
  double blend_w_[2] = {0, 0};
  // gru4rec: transposed gate weights (E, 3H), (H, 3H), biases (3H)
  std::vector<float> w_ih_t_, w_hh_t_, b_ih_, b_hh_;
  int64_t emb_dim_ = 0, hidden_ = 0;
};

// An update of a recommender's items shipped as a small file instead of a new model: items
// removed, items added or changed with all their per-item parameters (score row, bias and
// fold-in row), the rest of the model untouched. Applying it removes `remove` (the others keep
// their order), overwrites the known ids of `upsert` in place and appends the new ones in order.
//
// File form (safetensors, format "vitrine"): metadata "recommender_delta" =
//   {"kind", "dim", "fold_dim", "base": "<16 hex digits>", "result": "<16 hex digits>",
//    "remove": [ids], "upsert": [ids]}
// and, when upsert is not empty, tensors "rows" (U, dim), "bias" (U), "fold" (U, fold_dim) when
// fold_dim > 0 (F32 or F16).
struct ItemDelta {
  std::string kind;
  int64_t dim = 0, fold_dim = 0;
  uint64_t base = 0;    // RecModel::fingerprint() of the model it applies to
  uint64_t result = 0;  // ... and of the model after it is applied
  std::vector<std::string> remove;
  std::vector<std::string> upsert;
  std::vector<float> rows;  // (upsert, dim)
  std::vector<float> bias;  // (upsert)
  std::vector<float> fold;  // (upsert, fold_dim)
};
// A fingerprint as the 16 lowercase hex digits delta files and messages use.
std::string fingerprint_text(uint64_t fingerprint);
// Parses a delta file (hostile bytes: every field and shape checked; DataLoss naming the field).
Result<ItemDelta> parse_item_delta(std::shared_ptr<const std::vector<uint8_t>> bytes);
// The delta that turns `from` into `to` item-wise: ids only in `from` removed, ids only in `to`
// added, shared ids whose parameters differ by more than `tolerance` (absolute, any value)
// changed. Both must be the same kind and dimensions (InvalidArgument otherwise). The result
// fingerprint is that of `from` with the delta applied (its item order: survivors, then new ids
// in `to`'s order).
Result<ItemDelta> diff_items(const RecModel& from, const RecModel& to, float tolerance);
// Sets a hand-made delta's base and result fingerprints for `base` (its kind and dimensions too):
// what a producer calls once the lists and parameters are filled in. Checks nothing else.
void seal_item_delta(const RecModel& base, ItemDelta* delta);
// The delta's file bytes (F16 values with `half`).
Result<std::vector<uint8_t>> write_item_delta(const ItemDelta& delta, bool half);

// What a store tells the ranking about its items: their categories and which are out of stock.
// Entries for ids the model lacks are ignored (a catalogue often runs ahead of the model).
class RecCatalog {
 public:
  struct Entry {
    std::string id;
    std::vector<std::string> categories;
    bool in_stock = true;
  };
  static RecCatalog build(const RecModel& model, const std::vector<Entry>& entries);
  // [{"id": "...", "categories": ["..."], "inStock": false}, ...]; InvalidArgument naming the bad entry.
  static Result<RecCatalog> from_json(const RecModel& model, const JsonRef& entries);

  bool out_of_stock(int32_t item) const { return !out_of_stock_.empty() && out_of_stock_[static_cast<size_t>(item)] != 0; }
  // Sets excluded[i] for every item in none of `categories` (num_items entries).
  void exclude_outside(const std::vector<std::string>& categories, std::vector<uint8_t>* excluded) const;

 private:
  std::vector<uint8_t> out_of_stock_;                              // (num_items) or empty
  std::unordered_map<std::string, std::vector<int32_t>> members_;  // category -> items
};

// One ranking: what to leave out, how many, how diverse, and whether to explain.
struct RecommendRequest {
  int64_t k = 10;                      // >= 1; more than the items there are returns them all
  std::vector<HistoryEvent> history;   // the history the user vector was folded from, oldest first
  bool exclude_seen = true;            // leave out the history's items
  std::vector<int32_t> exclude;        // items never returned
  std::vector<uint8_t> excluded;       // a per-item mask (num_items, non-zero = leave out), e.g.
                                       // from a caller's filter; empty = none
  std::vector<std::string> categories; // only items in one of these (needs a catalog)
  double diversity = 0;                // in [0, 1]: > 0 re-ranks the best `pool` with MMR
  int64_t pool = 0;                    // >= 1; 0 = max(50, 5k)
  bool explain = true;                 // name the history item most like each result
  std::vector<int32_t> candidates;     // non-empty: only these items are scored and ranked (a
                                       // page's list: search results, a category page, a
                                       // server's retrieval); repeats count once; masks apply
};

struct Recommendation {
  int32_t item = -1;
  float score = 0;
  int32_t because = -1;     // the history item it most resembles (explain), or -1
  float similarity = 0;     // cosine of the two
};

// The ranking pipeline: the items out of stock, outside the categories, excluded or already seen
// are masked; every item is scored against `user` (RecModel::fold_in of request.history, dim()
// floats; split over ctx's threads when ctx is non-null); the k best are kept (or the best pool,
// re-ranked with MMR); each is explained by the history item it most resembles. `catalog` may be
// null (then no stock and no categories). Nothing is kept.
Result<std::vector<Recommendation>> recommend(const RecModel& model, const RecCatalog* catalog, const float* user,
                                              const RecommendRequest& request, Context* ctx);

// The k items most like `item` (cosine of table rows), masked like recommend() except that the
// history is not used (no seen items, no explanations).
Result<std::vector<Recommendation>> similar_to(const RecModel& model, const RecCatalog* catalog, int32_t item,
                                               const RecommendRequest& request);

}  // namespace vitrine
