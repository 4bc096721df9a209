// Embind bindings (one file per handle; this one: ReviewTrainerHandle): training a review model
// (text.h, ReviewModel::train) from labelled texts, for `vitrine train reviews`. Same conventions
// as the other binding files: null on failure, with lastError() / lastCode().
#include <emscripten/bind.h>
#include <emscripten/val.h>

#include <cmath>
#include <string>
#include <vector>

#include "binding_util.h"
#include "vitrine/text.h"

namespace vitrine::wasm {
namespace {

Result<int64_t> whole(const val& o, const char* key, int64_t fallback, int64_t lo, int64_t hi) {
  const val v = o[key];
  if (v.isUndefined()) return fallback;
  const double x = v.isNumber() ? v.as<double>() : std::nan("");
  if (!(x >= static_cast<double>(lo) && x <= static_cast<double>(hi) && x == std::floor(x))) {
    return Status::InvalidArgument(std::string("option ") + key + " must be a whole number in [" + std::to_string(lo) + ", " +
                                   std::to_string(hi) + "]");
  }
  return static_cast<int64_t>(x);
}

Result<double> positive(const val& o, const char* key, double fallback) {
  const val v = o[key];
  if (v.isUndefined()) return fallback;
  const double x = v.isNumber() ? v.as<double>() : std::nan("");
  if (!(x > 0 && std::isfinite(x))) return Status::InvalidArgument(std::string("option ") + key + " must be a number > 0");
  return x;
}

class ReviewTrainerHandle : public HandleBase {
 public:
  // request: { texts: string[], labels: Int32Array (indices into labelNames), labelNames: string[],
  //   options: { dim, epochs, batchSize, learningRate, weighting: 'mean'|'nb'|'tfidf', buckets,
  //   charBuckets, charMin, charMax (character n-grams; 0 buckets = none), maxFeatures (per review;
  //   raise it with character n-grams), minCount, bpeMerges, maxWords, seed }, threshold?: number,
  //   half?: bool }.
  // Returns the model file as a Uint8Array, or null.
  val train(const val& request) {
    return value_or_null(request, [this](const val& q, val* out) { return run(q, out); });
  }

 private:
  Status run(const val& q, val* out) {
    if (!q["texts"].isArray() || !q["labelNames"].isArray()) return Status::InvalidArgument("texts and labelNames must be arrays");
    if (!q["labels"].instanceof(val::global("Int32Array"))) return Status::InvalidArgument("labels must be an Int32Array");
    const std::vector<std::string> names = emscripten::vecFromJSArray<std::string>(q["labelNames"]);
    const std::vector<int32_t> labels = emscripten::convertJSArrayToNumberVector<int32_t>(q["labels"]);
    const int n = q["texts"]["length"].as<int>();
    size_t total = 0;
    for (int i = 0; i < n; ++i) total += q["texts"][i].isString() ? q["texts"][i]["length"].as<size_t>() * 3 : 0;
    VITRINE_RETURN_IF_ERROR(check_heap_room(total, "review texts"));
    if (static_cast<size_t>(n) != labels.size()) return Status::InvalidArgument("texts and labels differ in length");
    std::vector<ReviewExample> examples(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) {
      if (!q["texts"][i].isString()) return Status::InvalidArgument("text " + std::to_string(i) + " is not a string");
      examples[static_cast<size_t>(i)].text = q["texts"][i].as<std::string>();
      examples[static_cast<size_t>(i)].label = labels[static_cast<size_t>(i)];
    }
    const val o = q["options"].isUndefined() ? val::object() : q["options"];
    ReviewTrainOptions t;
    VITRINE_ASSIGN_OR_RETURN(t.dim, whole(o, "dim", t.dim, 1, 4096));
    VITRINE_ASSIGN_OR_RETURN(t.epochs, whole(o, "epochs", t.epochs, 1, 1000));
    VITRINE_ASSIGN_OR_RETURN(t.batch_size, whole(o, "batchSize", t.batch_size, 1, 1 << 20));
    VITRINE_ASSIGN_OR_RETURN(t.learning_rate, positive(o, "learningRate", t.learning_rate));
    VITRINE_ASSIGN_OR_RETURN(t.vocab.bigram_buckets, whole(o, "buckets", t.vocab.bigram_buckets, 0, 1 << 24));
    VITRINE_ASSIGN_OR_RETURN(t.vocab.char_buckets, whole(o, "charBuckets", t.vocab.char_buckets, 0, 1 << 24));
    VITRINE_ASSIGN_OR_RETURN(t.vocab.char_min, whole(o, "charMin", t.vocab.char_min, 1, 8));
    VITRINE_ASSIGN_OR_RETURN(t.vocab.char_max, whole(o, "charMax", t.vocab.char_max, 1, 8));
    VITRINE_ASSIGN_OR_RETURN(t.max_features, whole(o, "maxFeatures", t.max_features, 1, 1 << 16));
    VITRINE_ASSIGN_OR_RETURN(t.vocab.min_count, whole(o, "minCount", t.vocab.min_count, 1, 1 << 20));
    VITRINE_ASSIGN_OR_RETURN(t.vocab.bpe_merges, whole(o, "bpeMerges", t.vocab.bpe_merges, 0, 1 << 20));
    VITRINE_ASSIGN_OR_RETURN(t.vocab.max_words, whole(o, "maxWords", t.vocab.max_words, 1, 1 << 22));
    VITRINE_ASSIGN_OR_RETURN(int64_t seed, whole(o, "seed", t.seed, 0, 4294967295LL));
    t.seed = static_cast<uint32_t>(seed);
    if (!o["weighting"].isUndefined()) {
      if (!o["weighting"].isString()) return Status::InvalidArgument("option weighting must be a string");
      t.weighting = o["weighting"].as<std::string>();
    }
    VITRINE_ASSIGN_OR_RETURN(std::unique_ptr<ReviewModel> m, ReviewModel::train(examples, names, t, g_context.get()));
    if (!q["threshold"].isUndefined()) {
      if (!q["threshold"].isNumber()) return Status::InvalidArgument("threshold must be a number");
      VITRINE_RETURN_IF_ERROR(m->set_threshold(q["threshold"].as<double>()));
    }
    VITRINE_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, m->save(!q["half"].isUndefined() && q["half"].as<bool>()));
    *out = val::global("Uint8Array").new_(emscripten::typed_memory_view(bytes.size(), bytes.data()));
    return Status::Ok();
  }
};

}  // namespace

EMSCRIPTEN_BINDINGS(vitrine_review_train) {
  using H = ReviewTrainerHandle;
  bind_handle<H>("ReviewTrainerHandle", method("train", &H::train));
}

}  // namespace vitrine::wasm
