// Embind bindings for review analysis (text.h): one ReviewHandle per analyzer. Same conventions as
// runtime_bindings.cc: status codes, lastError(); analyze() marshals analyze_review()'s result as an object.
#include <emscripten/bind.h>
#include <emscripten/val.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "binding_util.h"
#include "vitrine/json.h"
#include "vitrine/text.h"

namespace vitrine::wasm {
namespace {

class ReviewHandle : public HandleBase {
 public:
  int load(const val& bytes) {
    Status s = ensure_context();
    if (!s.ok()) return record(s, &error_);
    Result<std::shared_ptr<std::vector<uint8_t>>> data = bytes_from_js(bytes, "model bytes");
    if (!data.ok()) return record(data.status(), &error_);
    Result<std::unique_ptr<ReviewModel>> m = ReviewModel::load(data.value(), g_context.get());
    if (!m.ok()) return record(m.status(), &error_);
    model_ = std::move(m).value();
    return 0;
  }
  val info() const {
    if (!model_) return val::null();
    Json::Array labels;
    for (const std::string& l : model_->labels()) labels.emplace_back(l);
    return json_to_val(Json::object({{"labels", Json::array(std::move(labels))}, {"threshold", model_->threshold()},
                                     {"dim", model_->dim()}, {"vocabulary", model_->vocab().size()}}));
  }

  // The aspect detector: keywords as JSON {"name": ["keyword", "prefix*", ...], ...}.
  int set_aspects(const std::string& json) {
    Result<Json> j = parse_json(json);
    if (!j.ok()) return record(j.status(), &error_);
    Result<std::unique_ptr<KeywordAspects>> a = KeywordAspects::from_json(j->ref("aspects"));
    if (!a.ok()) return record(a.status(), &error_);
    aspects_ = std::move(a).value();
    return 0;
  }
  // P(positive) at or above which an aspect's clause reads positive; < 0: the model's threshold.
  int set_aspect_threshold(double t) {
    if (!(t <= 1)) return record(Status::InvalidArgument("aspectThreshold must be in [0, 1]"), &error_);
    aspect_threshold_ = t;
    return 0;
  }
  val aspect_names() const {
    val out = val::array();
    if (aspects_) {
      for (const std::string& n : aspects_->names()) out.call<void>("push", n);
    }
    return out;
  }

  // analyze_review() of a JS string (UTF-8 from Embind) or a Uint8Array of UTF-8 bytes: null on
  // error (see lastError), else { label, probabilities, words: [{ word, weight }],
  // aspects: [{ aspect, score, positive, snippet }], tokens, truncated, invalidBytes }.
  val analyze(const val& text, int max_bytes, bool aspects, int top_words) {
    if (!model_) return last_code_ = not_loaded(), val::null();
    Result<std::string> bytes = text_from_js(text, max_bytes);
    if (!bytes.ok()) return last_code_ = record(bytes.status(), &error_), val::null();
    ReviewRequest request;
    request.text = bytes.value();
    request.max_bytes = static_cast<size_t>(max_bytes);
    request.aspects = aspects;
    request.top_words = top_words;
    request.aspect_threshold = aspect_threshold_;
    Result<ReviewAnalysis> r = analyze_review(*model_, aspects_.get(), request);
    if (!r.ok()) return last_code_ = record(r.status(), &error_), val::null();
    val probs = val::array(), words = val::array(), found = val::array();
    for (float x : r->probabilities) probs.call<void>("push", static_cast<double>(x));
    for (const ReviewAnalysis::Word& w : r->words) {
      val o = val::object();
      o.set("word", w.text);
      o.set("weight", static_cast<double>(w.weight));
      words.call<void>("push", o);
    }
    for (const ReviewAnalysis::Aspect& a : r->aspects) {
      val o = val::object();
      o.set("aspect", aspects_->names()[static_cast<size_t>(a.aspect)]);
      o.set("score", static_cast<double>(a.score));
      o.set("positive", a.positive);
      o.set("snippet", a.snippet);
      found.call<void>("push", o);
    }
    val out = val::object();
    out.set("label", r->label);
    out.set("probabilities", probs);
    out.set("words", words);
    out.set("aspects", found);
    out.set("tokens", static_cast<double>(r->tokens));
    out.set("truncated", r->truncated);
    out.set("invalidBytes", static_cast<double>(r->invalid_bytes));
    return out;
  }


  // One fine-tuning pass: examples as JSON [[text, label], ...], `epochs` epochs at `lr`.
  int fine_tune(const std::string& examples_json, int epochs, double lr) {
    if (!model_) return not_loaded();
    Result<Json> j = parse_json(examples_json);
    if (!j.ok()) return record(j.status(), &error_);
    std::vector<ReviewExample> ex;
    const JsonRef r = j->ref("examples");
    Result<const Json::Array*> list = r.as_array();
    if (!list.ok()) return record(list.status(), &error_);
    for (size_t i = 0; i < list.value()->size(); ++i) {
      Result<std::string> text = r[i][0].as_string();
      Result<int64_t> label = r[i][1].as_int();
      if (!text.ok()) return record(text.status(), &error_);
      if (!label.ok()) return record(label.status(), &error_);
      ex.push_back({text.value(), static_cast<int32_t>(label.value())});
    }
    return record(model_->fine_tune(ex, epochs, lr), &error_);
  }
  int set_threshold(double t) { return model_ ? record(model_->set_threshold(t), &error_) : not_loaded(); }
  val save(bool half) {
    if (!model_) return not_loaded(), val::null();
    Result<std::vector<uint8_t>> b = model_->save(half);
    if (!b.ok()) return record(b.status(), &error_), val::null();
    return val::global("Uint8Array").new_(emscripten::typed_memory_view(b->size(), b->data()));
  }
  // Summaries: begin, add reviews chunk by chunk (a JS array of strings or UTF-8 Uint8Arrays),
  // then read the result { count, positive, negative, positiveShare, truncated, aspects: [{ aspect,
  // mentions, positive, negative, praise, complaint }] (mentioned ones), praised, criticized }.
  int summary_begin() {
    if (!model_) return not_loaded();
    summary_ = std::make_unique<ReviewSummary>(aspects_ ? aspects_->names() : std::vector<std::string>{});
    return 0;
  }
  int summary_add(const val& texts, int max_bytes) {
    if (!model_) return not_loaded();
    if (!summary_) return record(Status::FailedPrecondition("summaryBegin() first"), &error_);
    if (!texts.isArray()) return record(Status::InvalidArgument("texts must be an array"), &error_);
    const int n = texts["length"].as<int>();
    for (int i = 0; i < n; ++i) {
      Result<std::string> bytes = text_from_js(texts[i], max_bytes);
      ReviewRequest request;
      if (bytes.ok()) request.text = bytes.value();
      request.max_bytes = static_cast<size_t>(std::max(max_bytes, 1));
      request.top_words = 0;
      request.aspect_threshold = aspect_threshold_;
      Result<ReviewAnalysis> r = bytes.ok() ? analyze_review(*model_, aspects_.get(), request) : Result<ReviewAnalysis>(bytes.status());
      if (!r.ok()) return record(Status(r.status().code(), "review " + std::to_string(i) + ": " + r.status().message()), &error_);
      summary_->add(r.value());
    }
    return 0;
  }
  val summary_result() const { return summary_ ? json_to_val(summary_->to_json()) : val::null(); }



 private:
  // A review's UTF-8: a JS string or a Uint8Array, at most max_bytes (+ a character) of it.
  static Result<std::string> text_from_js(const val& text, int max_bytes) {
    if (max_bytes < 1) return Status::InvalidArgument("maxBytes must be >= 1");
    std::string bytes;
    if (text.isString()) {
      bytes = text.as<std::string>();
    } else if (text.instanceof(val::global("Uint8Array"))) {
      const size_t n = std::min<size_t>(text["length"].as<size_t>(), static_cast<size_t>(max_bytes) + 4);  // the rest is cut anyway
      bytes.resize(n);
      if (n) val(emscripten::typed_memory_view(n, reinterpret_cast<uint8_t*>(bytes.data()))).call<void>("set", text.call<val>("subarray", 0, n));
    } else {
      return Status::InvalidArgument("review text must be a string or a Uint8Array of UTF-8");
    }
    // The analysis works on tokens, features and character n-grams: up to ~64 bytes per byte of
    // text with n-grams. A text too large for the heap is ResourceExhausted, not an abort.
    const size_t used = std::min(bytes.size(), static_cast<size_t>(max_bytes));
    VITRINE_RETURN_IF_ERROR(check_heap_room(used * 64, "analyzing a review of this length"));
    return bytes;
  }
  int not_loaded() { return record(Status::FailedPrecondition("review model is not loaded (or was disposed)"), &error_); }
  std::unique_ptr<ReviewModel> model_;
  std::unique_ptr<KeywordAspects> aspects_;
  double aspect_threshold_ = -1;  // the model's threshold
  std::unique_ptr<ReviewSummary> summary_;
};

}  // namespace

EMSCRIPTEN_BINDINGS(vitrine_reviews) {
  using H = ReviewHandle;
  bind_handle<H>("ReviewHandle", method("load", &H::load), method("info", &H::info), method("analyze", &H::analyze),
                                 method("setAspects", &H::set_aspects), method("aspectNames", &H::aspect_names), method("fineTune", &H::fine_tune),
                                 method("setThreshold", &H::set_threshold), method("save", &H::save),
                                 method("summaryBegin", &H::summary_begin), method("setAspectThreshold", &H::set_aspect_threshold), method("summaryAdd", &H::summary_add), method("summaryResult", &H::summary_result));
}

}  // namespace vitrine::wasm
