// Embind bindings for image tagging (tag.h, keras_import.h): one TaggerHandle per tagger, holding
// the model, a batch of pre-processed images, the last results, a similar-image index and the
// few-shot head (with its step-by-step trainer). Same conventions as the other binding files: methods return a
// status code (0 = OK) and keep the message for lastError(); results are read back as copies.
#include <emscripten/bind.h>
#include <emscripten/val.h>

#include <memory>
#include <string>
#include <vector>

#include "binding_util.h"
#include "vitrine/limits.h"
#include "vitrine/keras_import.h"
#include "vitrine/model_file.h"
#include "vitrine/tag.h"

namespace vitrine::wasm {
namespace {

val floats_to_js(const std::vector<float>& v) {
  return val::global("Float32Array").new_(emscripten::typed_memory_view(v.size(), v.data()));
}

class TaggerHandle : public HandleBase {
 public:
  // A Vitrine or ONNX model file; `description` (JSON, see ImageTagger) or "" for the file's own
  // "tagger" metadata.
  int load(const val& bytes, const std::string& description) {
    Status s = ensure_context();
    Result<std::shared_ptr<std::vector<uint8_t>>> b = s.ok() ? bytes_from_js(bytes, "model bytes") : Result<std::shared_ptr<std::vector<uint8_t>>>(s);
    if (!b.ok()) return record(b.status(), &error_);
    Result<LoadedModel> m = load_model(b.value());
    return record(m.ok() ? set_model(m.value(), description) : m.status(), &error_);
  }
  // A TF.js layers model: model.json text + its weight shards concatenated; `output_layer` "" for
  // the model's outputs. `description` is required (the JSON has no labels or normalization).
  int load_keras(const std::string& model_json, const val& weights, const std::string& output_layer,
                 const std::string& description) {
    Status s = ensure_context();
    Result<std::shared_ptr<std::vector<uint8_t>>> b = s.ok() ? bytes_from_js(weights, "weights") : Result<std::shared_ptr<std::vector<uint8_t>>>(s);
    if (!b.ok()) return record(b.status(), &error_);
    KerasImportOptions o;
    o.output_layer = output_layer;
    Result<LoadedModel> m = import_keras_layers(model_json, b.value()->data(), b.value()->size(), o);
    return record(m.ok() ? set_model(m.value(), description) : m.status(), &error_);
  }

  // {"input": {...}, "labels": [...], "groups": [...], "embeddingDim": D, "hasLogits": bool}
  val info() const {
    if (!tagger_) return val::null();
    Json::Array labels, groups;
    for (const std::string& l : tagger_->labels()) labels.emplace_back(l);
    for (const TagGroupSpec& g : tagger_->groups()) {
      Json::Array members;
      for (int32_t m : g.members) members.emplace_back(static_cast<int64_t>(m));
      groups.push_back(Json::object({{"name", g.name}, {"members", Json::array(std::move(members))}}));
    }
    return json_to_val(Json::object({{"input", tagger_->input().to_json()},
                         {"labels", Json::array(std::move(labels))},
                         {"groups", Json::array(std::move(groups))},
                         {"embeddingDim", tagger_->embedding_dim()},
                         {"hasLogits", tagger_->has_logits() || !tagger_->labels().empty()}}));
  }

  // Makes room for n images (their pre-processed inputs).
  int begin_batch(int n) {
    if (!tagger_) return not_loaded();
    if (n < 1 || n > 4096) return record(Status::InvalidArgument("batch size must be in [1, 4096]"), &error_);
    batch_.assign(static_cast<size_t>(n) * per_image(), 0.0f);
    return 0;
  }
  // Pre-processes image `index` of the batch: pixels (Uint8Array/Uint8ClampedArray) of width x
  // height in format gray|rgb|rgba with rows of row_bytes (0 = packed); fit and invert as in tag.h.
  int set_image(int index, const val& pixels, int width, int height, const std::string& format, int row_bytes,
                const std::string& fit, const std::string& invert) {
    if (!tagger_) return not_loaded();
    Status s = check_index(index);
    Result<PixelFormat> f = parse_pixel_format(format);
    Result<FitMode> fm = parse_fit_mode(fit);
    Result<InvertMode> im = parse_invert_mode(invert);
    if (s.ok() && !f.ok()) s = f.status();
    if (s.ok() && !fm.ok()) s = fm.status();
    if (s.ok() && !im.ok()) s = im.status();
    if (!s.ok()) return record(s, &error_);
    if (width < 1 || height < 1) {
      return record(Status::InvalidArgument("image is empty (" + std::to_string(width) + "x" + std::to_string(height) + ")"), &error_);
    }
    s = check_limit("image of " + std::to_string(width) + "x" + std::to_string(height), int64_t{width} * height, "pixels",
                    default_limits().max_image_pixels, "max_image_pixels");
    if (!s.ok()) return record(s, &error_);
    Result<std::shared_ptr<std::vector<uint8_t>>> pxs = bytes_from_js(pixels, "image pixels");
    if (!pxs.ok()) return record(pxs.status(), &error_);
    const std::vector<uint8_t>* px = pxs.value().get();
    const int64_t row = row_bytes > 0 ? row_bytes : int64_t{width} * pixel_format_channels(f.value());
    const int64_t need = row * (height - 1) + int64_t{width} * pixel_format_channels(f.value());
    if (static_cast<int64_t>(px->size()) < need) {
      return record(Status::InvalidArgument("image has " + std::to_string(px->size()) + " bytes, a " + std::to_string(width) + "x" +
                                            std::to_string(height) + " " + format + " image needs " + std::to_string(need)),
                    &error_);
    }
    PreprocessOptions o;
    o.fit = fm.value();
    o.invert = im.value();
    const ImageView view{px->data(), width, height, f.value(), row};
    return record(preprocess_image(view, tagger_->input(), o, batch_.data() + static_cast<size_t>(index) * per_image()), &error_);
  }
  // An already pre-processed input (Float32Array of the model's input size) for image `index`.
  int set_input(int index, const val& values) {
    if (!tagger_) return not_loaded();
    Status s = check_index(index);
    if (s.ok()) s = copy_from_js(values, batch_.data() + static_cast<size_t>(index) * per_image(), per_image(), "image input");
    return record(s, &error_);
  }
  // The pre-processed input of image `index` (for inspection).
  val input(int index) const {
    if (!tagger_ || index < 0 || static_cast<size_t>(index) >= batch_.size() / per_image()) return val::null();
    std::vector<float> v(batch_.begin() + static_cast<std::ptrdiff_t>(index * per_image()),
                         batch_.begin() + static_cast<std::ptrdiff_t>((index + 1) * per_image()));
    return floats_to_js(v);
  }
  int run() {
    if (!tagger_) return not_loaded();
    if (batch_.empty()) return record(Status::FailedPrecondition("no images: call beginBatch() and setImage() first"), &error_);
    const int64_t n = static_cast<int64_t>(batch_.size() / per_image());
    return record(tagger_->run(batch_.data(), n, &probs_, &groups_, &emb_), &error_);
  }
  val probabilities() const { return floats_to_js(probs_); }
  val group_scores() const { return floats_to_js(groups_); }
  val embeddings() const { return floats_to_js(emb_); }

  // Similar images: catalogue embeddings by id.
  int index_add(const std::string& id, const val& embedding) {
    if (!index_) return not_loaded();
    std::vector<float> e(static_cast<size_t>(index_->dim()));
    Status s = copy_from_js(embedding, e.data(), e.size(), "embedding");
    if (s.ok()) s = index_->add(id, e.data());
    return record(s, &error_);
  }
  int index_remove(const std::string& id) { return index_ ? record(index_->remove(id), &error_) : not_loaded(); }
  int index_size() const { return index_ ? static_cast<int>(index_->size()) : 0; }
  int index_search(const val& query, int k, const std::string& exclude_id) {
    if (!index_) return not_loaded();
    std::vector<float> q(static_cast<size_t>(index_->dim()));
    Status s = copy_from_js(query, q.data(), q.size(), "query embedding");
    if (s.ok()) {
      Result<std::vector<ScoredItem>> r = index_->search(q.data(), k, exclude_id);
      if (r.ok()) found_ = std::move(r).value();
      else s = r.status();
    }
    return record(s, &error_);
  }
  val found_ids() const {
    val out = val::array();
    for (const ScoredItem& r : found_) out.call<void>("push", index_->id(r.item));
    return out;
  }
  val found_scores() const {
    std::vector<float> v;
    for (const ScoredItem& r : found_) v.push_back(r.score);
    return floats_to_js(v);
  }

  // Few-shot head: begin (examples), step (a few steps at a time), finish (keep the head).
  int head_begin(const val& embeddings, int n, const val& labels, const val& tags, int steps, double lr, double wd) {
    Status s = ensure_context();
    const int64_t dim = tagger_ ? tagger_->embedding_dim() : 0;
    if (s.ok() && dim < 1) s = Status::FailedPrecondition("the tagger has no embedding output");
    if (s.ok() && (n < 1 || n > 1000000)) s = Status::InvalidArgument("example count must be in [1, 1e6]");
    std::vector<float> e;
    if (s.ok()) {
      e.resize(static_cast<size_t>(n) * static_cast<size_t>(dim));
      s = copy_from_js(embeddings, e.data(), e.size(), "example embeddings");
    }
    std::vector<int32_t> l(static_cast<size_t>(n > 0 ? n : 0));
    if (s.ok() && (!labels.instanceof(val::global("Int32Array")) || labels["length"].as<int>() != n)) {
      s = Status::InvalidArgument("labels must be an Int32Array with one label per example");
    }
    if (s.ok()) val(emscripten::typed_memory_view(l.size(), l.data())).call<void>("set", labels);
    if (!s.ok()) return record(s, &error_);
    HeadTrainOptions o;
    o.steps = steps;
    o.learning_rate = lr;
    o.weight_decay = wd;
    Result<std::unique_ptr<TagHeadTrainer>> t = TagHeadTrainer::create(
        e.data(), n, dim, l, emscripten::vecFromJSArray<std::string>(tags), o, g_context.get());
    if (!t.ok()) return record(t.status(), &error_);
    head_trainer_ = std::move(t).value();
    return 0;
  }
  int head_step(int steps) {
    if (!head_trainer_) return record(Status::FailedPrecondition("no head training in progress"), &error_);
    Result<double> loss = head_trainer_->run(steps);
    if (!loss.ok()) return record(loss.status(), &error_);
    head_loss_ = loss.value();
    return 0;
  }
  double head_loss() const { return head_loss_; }
  int head_steps_done() const { return head_trainer_ ? static_cast<int>(head_trainer_->steps_done()) : 0; }
  int head_finish() {
    if (!head_trainer_) return record(Status::FailedPrecondition("no head training in progress"), &error_);
    Result<std::unique_ptr<TagHead>> h = head_trainer_->head();
    if (!h.ok()) return record(h.status(), &error_);
    head_ = std::move(h).value();
    head_trainer_.reset();
    return 0;
  }
  int head_cancel() {
    head_trainer_.reset();
    return 0;
  }
  int head_load(const val& bytes) {
    Result<std::shared_ptr<std::vector<uint8_t>>> b = bytes_from_js(bytes, "head bytes");
    if (!b.ok()) return record(b.status(), &error_);
    Result<std::unique_ptr<TagHead>> h = TagHead::load(b.value());
    if (!h.ok()) return record(h.status(), &error_);
    if (tagger_ && h.value()->dim() != tagger_->embedding_dim()) {
      return record(Status::InvalidArgument("head expects " + std::to_string(h.value()->dim()) +
                                            "-d embeddings, this tagger makes " + std::to_string(tagger_->embedding_dim())),
                    &error_);
    }
    head_ = std::move(h).value();
    return 0;
  }
  val head_save() {
    if (!head_) return record(Status::FailedPrecondition("no head trained"), &error_), val::null();
    Result<std::vector<uint8_t>> b = head_->save();
    if (!b.ok()) return record(b.status(), &error_), val::null();
    return val::global("Uint8Array").new_(emscripten::typed_memory_view(b->size(), b->data()));
  }
  val head_tags() const {
    val out = val::array();
    if (head_) {
      for (const std::string& t : head_->tags()) out.call<void>("push", t);
    }
    return out;
  }
  int head_clear() {
    head_.reset();
    return 0;
  }
  // Head probabilities for the last run()'s embeddings.
  // Tags the batch (ImageTagger::tag with the trained head, if any). request: { topK, threshold }.
  // Returns one array per image of { label, score, type }, or null on error (lastCode / lastError).
  val tag(const val& request) {
    if (!tagger_) return last_code_ = not_loaded(), val::null();
    if (batch_.empty()) return fail(Status::FailedPrecondition("no images: call beginBatch() and setImage() first"));
    Result<TagRequest> r = read_tag_request(request);
    if (!r.ok()) return fail(r.status());
    const int64_t n = static_cast<int64_t>(batch_.size() / per_image());
    Result<std::vector<std::vector<Tag>>> tags = tagger_->tag(batch_.data(), n, head_.get(), r.value());
    return tags.ok() ? tags_to_js(tags.value()) : fail(tags.status());
  }
  // The head's top tags for n given embeddings (Float32Array, n * dim). request: { topK }.
  val head_classify(const val& embeddings, int n, const val& request) {
    if (!head_) return fail(Status::FailedPrecondition("no custom tags yet: learn() and train() first"));
    if (n < 1) return fail(Status::InvalidArgument("no embeddings"));
    Result<TagRequest> r = read_tag_request(request);
    if (!r.ok()) return fail(r.status());
    std::vector<float> e(static_cast<size_t>(n) * static_cast<size_t>(head_->dim()));
    Status s = copy_from_js(embeddings, e.data(), e.size(), "embeddings");
    if (!s.ok()) return fail(s);
    Result<std::vector<std::vector<Tag>>> tags = head_->classify(e.data(), n, r.value());
    return tags.ok() ? tags_to_js(tags.value()) : fail(tags.status());
  }


 private:
  Status set_model(const LoadedModel& m, const std::string& description) {
    Json desc;
    if (!description.empty()) {
      VITRINE_ASSIGN_OR_RETURN(desc, parse_json(description));
    }
    VITRINE_ASSIGN_OR_RETURN(std::unique_ptr<ImageTagger> t,
                             ImageTagger::create(m, g_context.get(), description.empty() ? nullptr : &desc));
    tagger_ = std::move(t);
    index_ = tagger_->embedding_dim() > 0 ? std::make_unique<EmbeddingIndex>(tagger_->embedding_dim()) : nullptr;
    batch_.clear();
    probs_.clear();
    groups_.clear();
    emb_.clear();
    head_.reset();
    head_trainer_.reset();
    return Status::Ok();
  }
  size_t per_image() const {
    const ImageInputSpec& s = tagger_->input();
    return static_cast<size_t>(s.height * s.width * s.channels);
  }
  Status check_index(int index) const {
    const size_t n = batch_.empty() ? 0 : batch_.size() / per_image();
    if (index < 0 || static_cast<size_t>(index) >= n) {
      return Status::OutOfRange("image index " + std::to_string(index) + " outside the batch of " + std::to_string(n));
    }
    return Status::Ok();
  }
  int not_loaded() { return record(Status::FailedPrecondition("tagger is not loaded (or was disposed)"), &error_); }
  val fail(const Status& s) {
    last_code_ = record(s, &error_);
    return val::null();
  }
  static Result<TagRequest> read_tag_request(const val& q) {
    TagRequest r;
    if (q.isNull() || q.typeOf().as<std::string>() != "object") return Status::InvalidArgument("the request must be an object");
    if (!q["topK"].isUndefined()) {
      const double k = q["topK"].isNumber() ? q["topK"].as<double>() : -1;
      if (!(k >= 1 && k < 2147483648.0 && k == std::floor(k))) return Status::InvalidArgument("topK must be a positive integer");
      r.top_k = static_cast<int64_t>(k);
    }
    if (!q["threshold"].isUndefined()) r.threshold = q["threshold"].isNumber() ? q["threshold"].as<double>() : std::nan("");
    VITRINE_RETURN_IF_ERROR(r.validate());
    return r;
  }
  static val tags_to_js(const std::vector<std::vector<Tag>>& tags) {
    val out = val::array();
    for (const std::vector<Tag>& image : tags) {
      val list = val::array();
      for (const Tag& t : image) {
        val o = val::object();
        o.set("label", t.label);
        o.set("score", t.score);
        o.set("type", std::string(tag_kind_name(t.kind)));
        list.call<void>("push", o);
      }
      out.call<void>("push", list);
    }
    return out;
  }

  std::unique_ptr<ImageTagger> tagger_;
  std::unique_ptr<EmbeddingIndex> index_;
  std::unique_ptr<TagHeadTrainer> head_trainer_;
  std::unique_ptr<TagHead> head_;
  std::vector<float> batch_, probs_, groups_, emb_;
  std::vector<ScoredItem> found_;
  double head_loss_ = 0.0;
};

}  // namespace

EMSCRIPTEN_BINDINGS(vitrine_tagger) {
  using H = TaggerHandle;
  bind_handle<H>("TaggerHandle", method("load", &H::load), method("loadKeras", &H::load_keras), method("info", &H::info),
                                 method("beginBatch", &H::begin_batch), method("setImage", &H::set_image), method("setInput", &H::set_input),
                                 method("input", &H::input), method("run", &H::run), method("probabilities", &H::probabilities),
                                 method("groupScores", &H::group_scores), method("embeddings", &H::embeddings), method("indexAdd", &H::index_add),
                                 method("indexRemove", &H::index_remove), method("indexSize", &H::index_size), method("indexSearch", &H::index_search),
                                 method("foundIds", &H::found_ids), method("foundScores", &H::found_scores), method("headBegin", &H::head_begin),
                                 method("headStep", &H::head_step), method("headLoss", &H::head_loss), method("headStepsDone", &H::head_steps_done),
                                 method("headFinish", &H::head_finish), method("headCancel", &H::head_cancel), method("headLoad", &H::head_load),
                                 method("headSave", &H::head_save), method("headTags", &H::head_tags), method("headClear", &H::head_clear),
                                 method("tag", &H::tag), method("headClassify", &H::head_classify));
}

}  // namespace vitrine::wasm
