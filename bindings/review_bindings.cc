// Embind bindings for review analysis (text.h): one ReviewHandle per analyzer. Same conventions as
// embind.cc: status codes, lastError(), results read back as copies (JSON strings here).
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

class ReviewHandle {
 public:
  int load(const val& bytes) {
    Status s = ensure_context();
    if (s.ok() && !bytes.instanceof(val::global("Uint8Array"))) s = Status::InvalidArgument("model bytes must be a Uint8Array");
    if (!s.ok()) return record(s, &error_);
    const size_t n = bytes["length"].as<size_t>();
    auto data = std::make_shared<std::vector<uint8_t>>(n);
    if (n) val(emscripten::typed_memory_view(n, data->data())).call<void>("set", bytes);
    Result<std::unique_ptr<ReviewModel>> m = ReviewModel::load(data, g_context.get());
    if (!m.ok()) return record(m.status(), &error_);
    model_ = std::move(m).value();
    return 0;
  }
  std::string info() const {
    if (!model_) return "null";
    Json::Array labels;
    for (const std::string& l : model_->labels()) labels.emplace_back(l);
    return Json::object({{"labels", Json::array(std::move(labels))}, {"threshold", model_->threshold()},
                         {"dim", model_->dim()}, {"vocabulary", model_->vocab().size()}})
        .dump();
  }

  // Analyzes a JS string (UTF-8 from Embind) or a Uint8Array of UTF-8 bytes, at most max_bytes:
  // the label, probabilities, the top_words tokens by |contribution| and, with `clauses`, each
  // clause's text, tokens and P(positive).
  int analyze(const val& text, int max_bytes, bool clauses, int top_words) {
    if (!model_) return not_loaded();
    std::string bytes;
    if (text.isString()) {
      bytes = text.as<std::string>();
    } else if (text.instanceof(val::global("Uint8Array"))) {
      const size_t n = text["length"].as<size_t>();
      bytes.resize(n);
      if (n) val(emscripten::typed_memory_view(n, reinterpret_cast<uint8_t*>(bytes.data()))).call<void>("set", text);
    } else {
      return record(Status::InvalidArgument("review text must be a string or a Uint8Array of UTF-8"), &error_);
    }
    if (max_bytes < 1) return record(Status::InvalidArgument("maxBytes must be >= 1"), &error_);
    if (top_words < 0) return record(Status::InvalidArgument("topWords must be >= 0"), &error_);
    const TokenizedText t = tokenize(bytes, static_cast<size_t>(max_bytes));
    Result<ReviewModel::Prediction> p = model_->predict(t);
    if (!p.ok()) return record(p.status(), &error_);
    Json::Array probs, words, cl;
    for (float x : p->probabilities) probs.emplace_back(static_cast<double>(x));
    std::vector<size_t> order;
    for (size_t i = 0; i < p->token_weights.size(); ++i) {
      if (p->token_weights[i] != 0.0f) order.push_back(i);
    }
    const size_t keep = std::min(order.size(), static_cast<size_t>(top_words));
    std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(keep), order.end(), [&](size_t a, size_t b) {
      const float wa = std::fabs(p->token_weights[a]), wb = std::fabs(p->token_weights[b]);
      return wa != wb ? wa > wb : a < b;
    });
    for (size_t k = 0; k < keep; ++k) {
      const Token& tok = t.tokens[order[k]];
      words.push_back(Json::object({{"text", tok.text}, {"negated", tok.negated},
                                    {"weight", static_cast<double>(p->token_weights[order[k]])}}));
    }
    if (clauses) {
      for (size_t c = 0; c < t.clauses.size(); ++c) {
        const TokenizedText ct = clause_text(t, c);
        if (ct.tokens.empty()) continue;
        Result<ReviewModel::Prediction> cp = model_->predict(ct);
        if (!cp.ok()) return record(cp.status(), &error_);
        Json::Array toks;
        for (const Token& k : ct.tokens) toks.emplace_back(k.text);
        cl.push_back(Json::object({{"text", ct.text}, {"tokens", Json::array(std::move(toks))},
                                   {"positive", static_cast<double>(cp->probabilities.back())}}));
      }
    }
    result_ = Json::object({{"label", p->label},
                            {"probabilities", Json::array(std::move(probs))},
                            {"words", Json::array(std::move(words))},
                            {"tokens", static_cast<int64_t>(t.tokens.size())},
                            {"clauses", Json::array(std::move(cl))},
                            {"truncated", t.truncated},
                            {"invalidBytes", t.invalid_bytes}})
                  .dump();
    return 0;
  }
  std::string result() const { return result_; }

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
  std::string last_error() const { return error_; }

 private:
  int not_loaded() { return record(Status::FailedPrecondition("review model is not loaded (or was disposed)"), &error_); }
  std::unique_ptr<ReviewModel> model_;
  std::string result_, error_;
};

}  // namespace

EMSCRIPTEN_BINDINGS(vitrine_reviews) {
  emscripten::class_<ReviewHandle>("ReviewHandle")
      .constructor<>()
      .function("load", &ReviewHandle::load)
      .function("info", &ReviewHandle::info)
      .function("analyze", &ReviewHandle::analyze)
      .function("result", &ReviewHandle::result)
      .function("fineTune", &ReviewHandle::fine_tune)
      .function("setThreshold", &ReviewHandle::set_threshold)
      .function("save", &ReviewHandle::save)
      .function("lastError", &ReviewHandle::last_error);
}

}  // namespace vitrine::wasm
