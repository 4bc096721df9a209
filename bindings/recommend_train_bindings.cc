// Embind bindings (one file per handle; this one: RecTrainerHandle): training a recommender
// (recommend_train.h) from histories the caller prepared, with validation on held-out users and a
// time budget, for the `vitrine train recommend` command. Same conventions as the other binding
// files: null on failure, with lastError() / lastCode().
#include <emscripten/bind.h>
#include <emscripten/val.h>

#include <chrono>
#include <map>
#include <cmath>
#include <string>
#include <vector>

#include "binding_util.h"
#include "vitrine/model_file.h"
#include "vitrine/recommend_train.h"

namespace vitrine::wasm {
namespace {

// Lists of item indices from a flat Int32Array and its offsets (users + 1 entries, from 0).
Result<std::vector<std::vector<int32_t>>> lists_from_js(const val& flat, const val& offsets, const char* what) {
  if (!flat.instanceof(val::global("Int32Array")) || !offsets.instanceof(val::global("Int32Array"))) {
    return Status::InvalidArgument(std::string(what) + ": items and offsets must be Int32Arrays");
  }
  const size_t n = flat["length"].as<size_t>(), users = offsets["length"].as<size_t>();
  VITRINE_RETURN_IF_ERROR(check_heap_room(4 * (n + users), what));
  const std::vector<int32_t> items = emscripten::convertJSArrayToNumberVector<int32_t>(flat);
  const std::vector<int32_t> off = emscripten::convertJSArrayToNumberVector<int32_t>(offsets);
  if (off.empty() || off.front() != 0 || off.back() != static_cast<int32_t>(items.size())) {
    return Status::InvalidArgument(std::string(what) + ": offsets must start at 0 and end at the item count");
  }
  for (size_t u = 0; u + 1 < off.size(); ++u) {  // all checked before anything is copied
    if (off[u + 1] < off[u]) return Status::InvalidArgument(std::string(what) + ": offsets must not decrease");
  }
  std::vector<std::vector<int32_t>> out(off.size() - 1);
  for (size_t u = 0; u + 1 < off.size(); ++u) out[u].assign(items.begin() + off[u], items.begin() + off[u + 1]);
  return out;
}

// A number option: `fallback` when absent, else a finite number.
Result<double> number(const val& o, const char* key, double fallback) {
  const val v = o[key];
  if (v.isUndefined()) return fallback;
  if (!v.isNumber() || !std::isfinite(v.as<double>())) return Status::InvalidArgument(std::string("option ") + key + " must be a finite number");
  return v.as<double>();
}

Result<RecTrainOptions> options_from_js(const val& o) {
  RecTrainOptions t;
  if (o.isUndefined() || o.isNull()) return t;
  for (const char* key : {"kind", "optimizer", "schedule"}) {
    if (!o[key].isUndefined() && !o[key].isString()) return Status::InvalidArgument(std::string("option ") + key + " must be a string");
  }
  if (!o["kind"].isUndefined()) t.kind = o["kind"].as<std::string>();
  if (!o["optimizer"].isUndefined()) t.optimizer = o["optimizer"].as<std::string>();
  if (!o["schedule"].isUndefined()) t.schedule = o["schedule"].as<std::string>();
  VITRINE_ASSIGN_OR_RETURN(double dim, number(o, "dim", static_cast<double>(t.dim)));
  VITRINE_ASSIGN_OR_RETURN(double emb, number(o, "embeddingDim", static_cast<double>(t.embedding_dim)));
  VITRINE_ASSIGN_OR_RETURN(t.dropout, number(o, "dropout", t.dropout));
  VITRINE_ASSIGN_OR_RETURN(t.l2, number(o, "l2", t.l2));
  VITRINE_ASSIGN_OR_RETURN(double epochs, number(o, "epochs", static_cast<double>(t.epochs)));
  VITRINE_ASSIGN_OR_RETURN(double batch, number(o, "batchSize", static_cast<double>(t.batch_size)));
  VITRINE_ASSIGN_OR_RETURN(double max_len, number(o, "maxLength", static_cast<double>(t.max_length)));
  VITRINE_ASSIGN_OR_RETURN(t.learning_rate, number(o, "learningRate", t.learning_rate));
  VITRINE_ASSIGN_OR_RETURN(t.weight_decay, number(o, "weightDecay", t.weight_decay));
  VITRINE_ASSIGN_OR_RETURN(double seed, number(o, "seed", t.seed));
  VITRINE_ASSIGN_OR_RETURN(double every, number(o, "evalEvery", static_cast<double>(t.eval_every)));
  VITRINE_ASSIGN_OR_RETURN(t.max_seconds, number(o, "maxSeconds", t.max_seconds));
  if (t.max_seconds < 0) return Status::InvalidArgument("option maxSeconds must be >= 0 (0: no limit)");
  VITRINE_ASSIGN_OR_RETURN(double fe, number(o, "foldInEpochs", static_cast<double>(t.fold_in_epochs)));
  VITRINE_ASSIGN_OR_RETURN(t.fold_in_lr, number(o, "foldInLr", t.fold_in_lr));
  VITRINE_ASSIGN_OR_RETURN(t.fold_in_l2, number(o, "foldInL2", t.fold_in_l2));
  for (double v : {dim, emb, epochs, batch, max_len, every, fe, seed}) {
    if (v < 0 || v > 2147483647.0 || v != std::floor(v)) return Status::InvalidArgument("integer options must be whole numbers in [0, 2^31)");
  }
  t.dim = static_cast<int64_t>(dim);
  t.embedding_dim = static_cast<int64_t>(emb);
  t.epochs = static_cast<int64_t>(epochs);
  t.batch_size = static_cast<int64_t>(batch);
  t.max_length = static_cast<int64_t>(max_len);
  t.seed = static_cast<uint32_t>(seed);
  t.eval_every = static_cast<int64_t>(every);
  t.fold_in_epochs = static_cast<int64_t>(fe);
  return t;
}

class RecTrainerHandle : public HandleBase {
 public:
  // request: { histories: Int32Array, offsets: Int32Array, itemIds: string[], options: {...},
  //   validation?: { histories, offsets, targets, targetOffsets, k }, half?: bool,
  //   metadata?: { key: string } (added to the model file, e.g. the data's licence),
  //   onEpoch?: (epoch, loss, validation|NaN) => void }. Returns { model: Uint8Array, bestEpoch,
  //   bestValidation (NaN without validation), losses: number[], seconds } or null.
  val train(const val& request) {
    return value_or_null(request, [this](const val& q, val* out) { return run(q, out); });
  }

 private:
  Status run(const val& q, val* result) {
    RecTrainData data;
    VITRINE_ASSIGN_OR_RETURN(data.histories, lists_from_js(q["histories"], q["offsets"], "histories"));
    if (!q["itemIds"].isArray()) return Status::InvalidArgument("itemIds must be an array of strings");
    data.item_ids = emscripten::vecFromJSArray<std::string>(q["itemIds"]);
    VITRINE_ASSIGN_OR_RETURN(RecTrainOptions o, options_from_js(q["options"]));
    RecHeldOut held;
    RecValidateFn validate;
    const val v = q["validation"];
    if (!v.isUndefined() && !v.isNull()) {
      VITRINE_ASSIGN_OR_RETURN(held.histories, lists_from_js(v["histories"], v["offsets"], "validation histories"));
      VITRINE_ASSIGN_OR_RETURN(held.targets, lists_from_js(v["targets"], v["targetOffsets"], "validation targets"));
      VITRINE_ASSIGN_OR_RETURN(double k, number(v, "k", 100));
      if (k < 1 || k != std::floor(k)) return Status::InvalidArgument("validation k must be a positive integer");
      validate = ndcg_validator(held, static_cast<int64_t>(k), g_context.get());
    }
    std::map<std::string, std::string> extra_metadata;  // more metadata for the file: { key: string }
    const val extra = q["metadata"];
    if (!extra.isUndefined() && !extra.isNull()) {
      const val keys = val::global("Object").call<val>("keys", extra);
      for (int i = 0; i < keys["length"].as<int>(); ++i) {
        const std::string key = keys[i].as<std::string>();
        if (!extra[key].isString()) return Status::InvalidArgument("metadata." + key + " must be a string");
        extra_metadata[key] = extra[key].as<std::string>();
      }
    }
    // onEpoch must not throw: an exception would unwind through the engine (the CLI's catches).
    const val on_epoch = q["onEpoch"];
    RecProgressFn progress;
    if (on_epoch.typeOf().as<std::string>() == "function") {
      progress = [&on_epoch](int64_t epoch, double loss, double validation) {
        on_epoch(static_cast<double>(epoch), loss, validation);
      };
    }
    const auto t0 = std::chrono::steady_clock::now();
    VITRINE_ASSIGN_OR_RETURN(RecTrainResult r, train_recommender(data, o, g_context.get(), validate, progress));
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    for (const auto& [key, value] : extra_metadata) {
      if (r.model.metadata.count(key)) return Status::InvalidArgument("metadata." + key + " is the model's own");
      r.model.metadata[key] = value;
    }
    const bool half = !q["half"].isUndefined() && q["half"].as<bool>();
    VITRINE_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, save_model(*r.model.graph, r.model.metadata, half));
    val& out = *result;
    out = val::object();
    out.set("model", val::global("Uint8Array").new_(emscripten::typed_memory_view(bytes.size(), bytes.data())));
    out.set("bestEpoch", static_cast<double>(r.best_epoch));
    out.set("bestValidation", r.best_validation);
    val losses = val::array();
    for (double l : r.epoch_losses) losses.call<void>("push", l);
    out.set("losses", losses);
    out.set("seconds", seconds);
    return Status::Ok();
  }
};

}  // namespace

EMSCRIPTEN_BINDINGS(vitrine_recommend_train) {
  using H = RecTrainerHandle;
  bind_handle<H>("RecTrainerHandle", method("train", &H::train));
}

}  // namespace vitrine::wasm
