// Embind bindings (one file per handle; this one: RecommenderHandle). Thin RAII wrappers over the engine for
// the JS facade (web/src): no C++ exception and no abort crosses this boundary for a bad call; every
// method that can fail returns a status code (0 = OK, else a vitrine::StatusCode) and keeps the
// message for lastError().
#include <emscripten/bind.h>
#include <emscripten/val.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "binding_util.h"
#include "../engine/src/core/utf8.h"
#include "vitrine/recommend.h"
#include "vitrine/safetensors.h"

namespace vitrine::wasm {
namespace {

using emscripten::val;

// A recommender (recommend.h): fold-in of a history into a user vector, ranking with exclusions
// and MMR diversity, similar items and explanations. Results are read back with resultItems() /
// resultScores().
class RecommenderHandle : public HandleBase {
 public:
  // A recommender model file (Uint8Array) with its item table stored as precision f32|f16|int8.
  int load(const val& bytes, const std::string& precision) {
    Status s = ensure_context();
    Result<TablePrecision> p = parse_precision(precision);
    if (s.ok() && !p.ok()) s = p.status();
    Result<std::shared_ptr<std::vector<uint8_t>>> data = s.ok() ? bytes_from_js(bytes, "model bytes") : Result<std::shared_ptr<std::vector<uint8_t>>>(s);
    if (s.ok() && !data.ok()) s = data.status();
    if (s.ok()) {
      Result<std::unique_ptr<RecModel>> m = RecModel::load(data.value(), p.value());
      if (!m.ok()) s = m.status();
      else set_model(std::move(m).value());
    }
    return record(s, &error_);
  }

  // A raw item table: rows (n * d) Float32Array, bias Float32Array (n) or null, ids (JS array of
  // strings, or an empty array for "0".."n-1").
  int load_table(const val& rows, int n, int d, const val& bias, const val& ids, const std::string& precision) {
    Status s = ensure_context();
    Result<TablePrecision> p = parse_precision(precision);
    if (s.ok() && !p.ok()) s = p.status();
    if (s.ok() && (n < 1 || d < 1)) s = Status::InvalidArgument("item table: n and d must be >= 1");
    std::vector<float> r, b;
    if (s.ok()) {
      r.resize(static_cast<size_t>(n) * static_cast<size_t>(d));
      s = copy_from_js(rows, r.data(), r.size(), "item table rows");
    }
    if (s.ok() && !bias.isNull() && !bias.isUndefined()) {
      b.resize(static_cast<size_t>(n));
      s = copy_from_js(bias, b.data(), b.size(), "item table bias");
    }
    std::vector<std::string> names;
    if (s.ok() && !ids.isNull() && !ids.isUndefined()) names = emscripten::vecFromJSArray<std::string>(ids);
    if (s.ok()) {
      Result<std::unique_ptr<RecModel>> m =
          RecModel::from_table(std::move(names), r.data(), n, d, b.empty() ? nullptr : b.data(), p.value());
      if (!m.ok()) s = m.status();
      else set_model(std::move(m).value());
    }
    return record(s, &error_);
  }

  std::string kind() const { return model_ ? model_->kind() : ""; }
  int num_items() const { return model_ ? static_cast<int>(model_->num_items()) : 0; }
  int dim() const { return model_ ? static_cast<int>(model_->dim()) : 0; }
  double bytes() const { return model_ ? static_cast<double>(model_->bytes()) : 0; }
  // How the score rows are held: "f32" | "f16" | "int8" | "pq" (a compact file's storage wins).
  std::string precision() const { return model_ ? precision_name(model_->table().precision()) : ""; }
  val item_id(int index) const {
    if (!model_ || index < 0 || index >= model_->num_items()) return val::null();
    return val(model_->item_id(index));
  }
  // The index of an item id, or -1 (message in lastError()).
  int find_item(const std::string& id) {
    if (!model_) return not_loaded(), -1;
    Result<int32_t> i = model_->find_item(id);
    if (!i.ok()) return record(i.status(), &error_), -1;
    return i.value();
  }

  // Folds a history (Int32Array item indices oldest first, Float32Array weights) into the user vector.
  int fold_in(const val& items, const val& weights) {
    if (!model_) return not_loaded();
    std::vector<HistoryEvent> h;
    Status s = history(items, weights, &h);
    if (s.ok()) s = model_->fold_in(h, &user_);
    return record(s, &error_);
  }
  val user_vector() const {
    if (user_.empty()) return val::global("Float32Array").new_(0);
    return val::global("Float32Array").new_(emscripten::typed_memory_view(user_.size(), user_.data()));
  }
  int set_user_vector(const val& v) {
    if (!model_) return not_loaded();
    std::vector<float> u(static_cast<size_t>(model_->dim()));
    Status s = copy_from_js(v, u.data(), u.size(), "user vector");
    if (s.ok()) user_ = std::move(u);
    return record(s, &error_);
  }

  // The store's catalogue as JSON ([{ id, categories?, inStock? }]) or "null" for none.
  int set_catalog(const std::string& json) {
    if (!model_) return not_loaded();
    if (json == "null") {
      catalog_.reset();
      catalog_json_.clear();
      return 0;
    }
    return record(set_catalog_json(json), &error_);
  }

  // recommend() for the current user vector. request: { k, history: Int32Array (item indices,
  // oldest first), excludeSeen, exclude: Int32Array, excluded: Uint8Array (one per item) | null,
  // categories: string[], diversity, pool (0: default), explain }. Returns [{ id, score,
  // because?: { id, similarity } }], or null on error (lastCode / lastError).
  val rank(const val& request) {
    if (!model_) return last_code_ = not_loaded(), val::null();
    Result<RecommendRequest> r = read_request(request);
    Result<std::vector<Recommendation>> out = r.ok() ? recommend(*model_, catalog_.get(), user_.empty() ? nullptr : user_.data(), r.value(), g_context.get())
                                                     : Result<std::vector<Recommendation>>(r.status());
    return results(out);
  }

  // The items most like `item`, masked by request's exclude / excluded / categories and the stock.
  val similar(int item, const val& request) {
    if (!model_) return last_code_ = not_loaded(), val::null();
    Result<RecommendRequest> r = read_request(request);
    Result<std::vector<Recommendation>> out = r.ok() ? similar_to(*model_, catalog_.get(), item, r.value())
                                                     : Result<std::vector<Recommendation>>(r.status());
    return results(out);
  }

  // Applies an item delta file (Uint8Array; recommend.h ItemDelta): items removed, changed, added.
  // The user vector is dropped (indices moved): fold the history in again.
  int apply_delta(const val& bytes) {
    if (!model_) return not_loaded();
    Result<std::shared_ptr<std::vector<uint8_t>>> data = bytes_from_js(bytes, "item delta bytes");
    Result<ItemDelta> d = data.ok() ? parse_item_delta(data.value()) : Result<ItemDelta>(data.status());
    Status s = d.ok() ? model_->apply_delta(d.value()) : d.status();
    if (s.ok()) s = items_changed();
    return record(s, &error_);
  }
  // New items placed by the model's content map (JSON [{ id, title?, description?, categories?,
  // year? }]); the user vector is dropped (fold the history in again).
  int add_items(const std::string& json) {
    if (!model_) return not_loaded();
    Result<Json> j = parse_json(json);
    Result<std::vector<ItemContent>> items = j.ok() ? parse_item_content(j->ref("items")) : Result<std::vector<ItemContent>>(j.status());
    Status s = items.ok() ? model_->add_items(items.value()) : items.status();
    if (s.ok() && !items->empty()) s = items_changed();
    return record(s, &error_);
  }
  bool has_content() const { return model_ && model_->content() != nullptr; }

  // Fits the content map that places new items (addItems) on the trained items' content (JSON
  // [{ id, title?, description?, categories?, year? }]); buckets 0 for the default, lambda 0 to
  // choose it on held-out items.
  int fit_content(const std::string& json, int buckets, double lambda) {
    if (!model_) return not_loaded();
    if (buckets < 0) return record(Status::InvalidArgument("content map: buckets must be >= 0 (0: the default)"), &error_);
    Result<Json> j = parse_json(json);
    Result<std::vector<ItemContent>> items = j.ok() ? parse_item_content(j->ref("catalogue")) : Result<std::vector<ItemContent>>(j.status());
    Status s = items.ok() ? model_->fit_content(items.value(), buckets > 0 ? buckets : ContentMap::kDefaultBuckets, lambda)
                          : items.status();
    return record(s, &error_);
  }
  // The model as a compact file (Uint8Array): score rows and fold-in rows stored as "float" |
  // "int8" | "pq:M", floats as F16 when half. null on error (lastCode / lastError).
  val save_compact(const std::string& rows, const std::string& fold, bool half) {
    if (!model_) return last_code_ = not_loaded(), val::null();
    Result<RecModel::CompactOptions> o = RecModel::compact_options(rows, fold, half);
    return bytes_or_null(o.ok() ? model_->save_compact(o.value()) : Result<std::vector<uint8_t>>(o.status()));
  }
  // The item delta (Uint8Array) that gives this model's items those of `to` (a model or compact
  // file): rows that moved by more than tolerance, added and removed items. null on error.
  val delta_to(const val& to, double tolerance, bool half) {
    if (!model_) return last_code_ = not_loaded(), val::null();
    Result<std::shared_ptr<std::vector<uint8_t>>> data = bytes_from_js(to, "target model bytes");
    Result<std::unique_ptr<RecModel>> m = data.ok() ? RecModel::load(data.value(), TablePrecision::kF32)
                                                    : Result<std::unique_ptr<RecModel>>(data.status());
    Result<ItemDelta> d = m.ok() ? diff_items(*model_, *m.value(), static_cast<float>(tolerance)) : Result<ItemDelta>(m.status());
    return bytes_or_null(d.ok() ? write_item_delta(d.value(), half) : Result<std::vector<uint8_t>>(d.status()));
  }

  // The model's item-state fingerprint (16 hex digits): what a delta must be made against.
  std::string fingerprint() const {
    return model_ ? fingerprint_text(model_->fingerprint()) : "";
  }

 private:
  val bytes_or_null(const Result<std::vector<uint8_t>>& b) {
    if (!b.ok()) return last_code_ = record(b.status(), &error_), val::null();
    last_code_ = record(Status::Ok(), &error_);
    return val::global("Uint8Array").new_(emscripten::typed_memory_view(b->size(), b->data()));
  }
  // After the model's items changed (indices moved): the user vector is stale, the catalogue
  // is rebuilt from the JSON it was given.
  Status items_changed() {
    user_.clear();
    return catalog_json_.empty() ? Status::Ok() : set_catalog_json(catalog_json_);
  }
  Status set_catalog_json(const std::string& json) {
    Result<Json> j = parse_json(json);
    Result<RecCatalog> c = j.ok() ? RecCatalog::from_json(*model_, j->ref("catalog")) : Result<RecCatalog>(j.status());
    if (!c.ok()) return c.status();
    catalog_ = std::make_unique<RecCatalog>(std::move(c).value());
    catalog_json_ = json;
    return Status::Ok();
  }
  void set_model(std::unique_ptr<RecModel> m) {
    model_ = std::move(m);
    catalog_.reset();
    catalog_json_.clear();
    user_.clear();
  }
  Status history(const val& items, const val& weights, std::vector<HistoryEvent>* h) const {
    if (!items.instanceof(val::global("Int32Array"))) return Status::InvalidArgument("history items must be an Int32Array");
    const size_t n = items["length"].as<size_t>();
    std::vector<int32_t> ids(n);
    if (n) val(emscripten::typed_memory_view(n, ids.data())).call<void>("set", items);
    std::vector<float> w(n, 1.0f);
    if (!weights.isNull() && !weights.isUndefined()) VITRINE_RETURN_IF_ERROR(copy_from_js(weights, w.data(), n, "history weights"));
    h->resize(n);
    for (size_t i = 0; i < n; ++i) (*h)[i] = {ids[i], w[i]};
    return Status::Ok();
  }
  // A whole number in [1, 2^31) from a JS value (NaN, fractions and other types refused).
  static Result<int64_t> positive_integer(const val& v, const char* name) {
    const double x = v.isNumber() ? v.as<double>() : std::nan("");
    if (!(x >= 1 && x < 2147483648.0 && x == std::floor(x))) return Status::InvalidArgument(std::string(name) + " must be a positive integer");
    return static_cast<int64_t>(x);
  }
  Result<RecommendRequest> read_request(const val& q) const {
    RecommendRequest r;
    if (q.isNull() || q.typeOf().as<std::string>() != "object") return Status::InvalidArgument("the request must be an object");
    if (!q["k"].isUndefined()) {
      VITRINE_ASSIGN_OR_RETURN(r.k, positive_integer(q["k"], "k"));
    }
    if (!q["pool"].isUndefined()) {
      VITRINE_ASSIGN_OR_RETURN(r.pool, positive_integer(q["pool"], "pool"));
    }
    if (!q["diversity"].isUndefined()) {
      r.diversity = q["diversity"].isNumber() ? q["diversity"].as<double>() : std::nan("");
    }
    if (!q["excludeSeen"].isUndefined()) r.exclude_seen = q["excludeSeen"].as<bool>();
    if (!q["explain"].isUndefined()) r.explain = q["explain"].as<bool>();
    std::vector<int32_t> history;
    VITRINE_RETURN_IF_ERROR(ints(q["history"], "history", &history));
    for (int32_t i : history) r.history.push_back({i, 1.0f});
    VITRINE_RETURN_IF_ERROR(ints(q["exclude"], "exclude", &r.exclude));
    VITRINE_RETURN_IF_ERROR(ints(q["candidates"], "candidates", &r.candidates));
    const val m = q["excluded"];
    if (!m.isNull() && !m.isUndefined()) {
      if (!m.instanceof(val::global("Uint8Array"))) return Status::InvalidArgument("excluded must be a Uint8Array or null");
      r.excluded.resize(m["length"].as<size_t>());
      if (!r.excluded.empty()) val(emscripten::typed_memory_view(r.excluded.size(), r.excluded.data())).call<void>("set", m);
    }
    const val cats = q["categories"];
    if (!cats.isNull() && !cats.isUndefined()) {
      if (!cats.isArray()) return Status::InvalidArgument("categories must be an array of strings");
      const int n = cats["length"].as<int>();
      for (int i = 0; i < n; ++i) {
        if (!cats[i].isString()) return Status::InvalidArgument("categories must be an array of strings");
        r.categories.push_back(cats[i].as<std::string>());
      }
    }
    return r;
  }
  static Status ints(const val& v, const char* name, std::vector<int32_t>* out) {
    if (v.isNull() || v.isUndefined()) return Status::Ok();
    if (!v.instanceof(val::global("Int32Array"))) return Status::InvalidArgument(std::string(name) + " must be an Int32Array");
    out->resize(v["length"].as<size_t>());
    if (!out->empty()) val(emscripten::typed_memory_view(out->size(), out->data())).call<void>("set", v);
    return Status::Ok();
  }
  // [{ id, score, because?: { id, similarity } }]: the ids (UTF-16 lengths of each), scores and
  // explanations go to JS in one call (Module.vitrineRankResults, post.js), which builds the objects.
  val results(const Result<std::vector<Recommendation>>& r) {
    if (!r.ok()) return last_code_ = record(r.status(), &error_), val::null();
    const std::vector<Recommendation>& list = r.value();
    std::string text;
    std::vector<int32_t> lengths, because;
    std::vector<float> scores, similarity;
    bool valid = true;
    auto add = [&](int32_t item) {
      const std::string& id = model_->item_id(item);
      int32_t units = 0;
      for (size_t at = 0; at < id.size() && valid;) {
        uint32_t cp = 0;
        const size_t n = decode_utf8(id, at, &cp);
        // not UTF-8 (decoded with replacements), or a character JS's decoder drops (a byte-order
        // mark) or splits at (NUL): these lists take the item-by-item path below
        if (n == 0 || cp == 0 || cp == 0xFEFF) valid = false;
        units += cp >= 0x10000 ? 2 : 1;
        at += n;
      }
      text += id;
      lengths.push_back(units);
    };
    for (const Recommendation& x : list) {
      add(x.item);
      scores.push_back(x.score);
      because.push_back(x.because);
      similarity.push_back(x.similarity);
    }
    for (const Recommendation& x : list) {
      if (x.because >= 0) add(x.because);
    }
    if (!valid) {
      val out = val::array();
      for (const Recommendation& x : list) {
        val o = val::object();
        o.set("id", model_->item_id(x.item));
        o.set("score", x.score);
        if (x.because >= 0) {
          val b = val::object();
          b.set("id", model_->item_id(x.because));
          b.set("similarity", x.similarity);
          o.set("because", b);
        }
        out.call<void>("push", o);
      }
      return out;
    }
    // The string first: making it may grow the heap, which detaches views made before.
    const val ids(text);
    return val::module_property("vitrineRankResults")(
        ids, val(emscripten::typed_memory_view(lengths.size(), lengths.data())), val(emscripten::typed_memory_view(scores.size(), scores.data())),
        val(emscripten::typed_memory_view(because.size(), because.data())), val(emscripten::typed_memory_view(similarity.size(), similarity.data())));
  }
  int not_loaded() { return record(Status::FailedPrecondition("recommender is not loaded (or was disposed)"), &error_); }

  std::unique_ptr<RecModel> model_;
  std::unique_ptr<RecCatalog> catalog_;
  std::string catalog_json_;  // the catalogue as given, rebuilt when a delta moves item indices
  std::vector<float> user_;
};

}  // namespace

EMSCRIPTEN_BINDINGS(vitrine_recommend) {
  using H = RecommenderHandle;
  bind_handle<H>("RecommenderHandle", method("load", &H::load), method("loadTable", &H::load_table), method("kind", &H::kind),
                                      method("numItems", &H::num_items), method("dim", &H::dim), method("bytes", &H::bytes),
                                      method("itemId", &H::item_id), method("findItem", &H::find_item), method("foldIn", &H::fold_in),
                                      method("userVector", &H::user_vector), method("setUserVector", &H::set_user_vector), method("setCatalog", &H::set_catalog),
                                      method("rank", &H::rank), method("similar", &H::similar),
                                      method("applyDelta", &H::apply_delta), method("fingerprint", &H::fingerprint),
                                      method("precision", &H::precision), method("addItems", &H::add_items),
                                      method("hasContent", &H::has_content), method("fitContent", &H::fit_content),
                                      method("saveCompact", &H::save_compact), method("deltaTo", &H::delta_to));
}

}  // namespace vitrine::wasm
