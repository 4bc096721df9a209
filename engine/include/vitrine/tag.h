// Image tagging on the device: pre-processing, the tagger (a CNN model file + labels), image
// embeddings, similar-image search and few-shot heads trained on the device.
//
// Pixels come in as 8-bit gray, RGB or RGBA rows (what ImageData, a canvas or a decoded file
// gives). preprocess_image() turns them into the model's input tensor: colour -> gray when the
// model wants one channel (ITU-R BT.601 luma; alpha composited over white), optional inversion for
// models trained on light-on-dark images (Fashion-MNIST), aspect-preserving fit (letterbox with the
// background colour, centre crop, or stretch), resize (area averaging when shrinking, bilinear when
// enlarging), then (x / 255 - mean) / std per channel, NHWC or NCHW.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "vitrine/context.h"
#include "vitrine/graph.h"
#include "vitrine/json.h"
#include "vitrine/model_file.h"
#include "vitrine/recommend.h"
#include "vitrine/status.h"

namespace vitrine {

// ---- pre-processing ---------------------------------------------------------------------------

enum class PixelFormat { kGray, kRgb, kRgba };
int64_t pixel_format_channels(PixelFormat f);  // 1, 3, 4
Result<PixelFormat> parse_pixel_format(const std::string& name);  // "gray" | "rgb" | "rgba"

// A borrowed view of 8-bit pixels; rows of `row_bytes` (0 = width * channels). Not owned.
struct ImageView {
  const uint8_t* pixels = nullptr;
  int64_t width = 0, height = 0;
  PixelFormat format = PixelFormat::kRgba;
  int64_t row_bytes = 0;
};

enum class FitMode {
  kLetterbox,  // keep the aspect ratio, pad the short side with the background colour
  kCrop,       // keep the aspect ratio, cut the centre square (or the model's aspect)
  kStretch,    // resize to the model's size, distorting the aspect ratio
};
Result<FitMode> parse_fit_mode(const std::string& name);  // "letterbox" | "crop" | "stretch"

enum class InvertMode {
  kAuto,    // invert when the model wants a dark background and the image's border is light
  kNever,
  kAlways,
};
Result<InvertMode> parse_invert_mode(const std::string& name);  // "auto" | "never" | "always"

// What a model expects, read from its metadata (see ImageTagger) or given for a foreign backbone.
struct ImageInputSpec {
  int64_t height = 0, width = 0, channels = 3;  // channels: 1 (gray) or 3 (RGB)
  std::vector<float> mean, std;                 // per channel, on the [0, 1] scale; empty = 0 / 1
  bool nchw = false;                            // tensor layout (ONNX vision models use NCHW)
  bool dark_background = false;                 // trained on light objects over black (Fashion-MNIST)

  Status validate() const;
  // {"height", "width", "channels", "mean", "std", "layout": "nhwc"|"nchw", "background": "dark"|"light"}
  static Result<ImageInputSpec> from_json(const JsonRef& j);
  Json to_json() const;
};

struct PreprocessOptions {
  FitMode fit = FitMode::kLetterbox;
  InvertMode invert = InvertMode::kAuto;
};

// Writes one image as the model's input into `out` (height * width * channels floats, in the
// spec's layout). Fails on empty or oversized (> 16384 px a side) images, null pixels or a row
// stride shorter than a row.
Status preprocess_image(const ImageView& image, const ImageInputSpec& spec, const PreprocessOptions& options, float* out);

// ---- the tagger -------------------------------------------------------------------------------

struct TagGroupSpec {
  std::string name;
  std::vector<int32_t> members;  // class indices
};

// One tag of an image: a class of the model, one of its coarse groups, or a store's own tag (a
// TagHead's).
enum class TagKind { kClass, kGroup, kCustom };
const char* tag_kind_name(TagKind kind);  // "class" | "group" | "custom"

struct Tag {
  std::string label;
  float score = 0;
  TagKind kind = TagKind::kClass;
};

struct TagRequest {
  int64_t top_k = 3;       // per kind, >= 1
  double threshold = 0;    // in [0, 1]: tags scoring less are left out
  Status validate() const;
};

// Each kind's top_k scores (>= threshold) as tags, all kinds merged best first (ties: classes,
// then groups, then custom tags; within a kind the lower index). scores[k] holds (n, names[k])
// values or is null (no such kind).
std::vector<std::vector<Tag>> merge_tags(int64_t n, const float* const scores[3], const std::vector<std::string>* const names[3],
                                         const TagRequest& request);

class TagHead;

// A model that maps images to class scores and/or an embedding.
//   Vitrine tagger files carry metadata "tagger": {"input": ImageInputSpec, "labels": [...],
//   "groups": [{"name", "members"}], "outputs": {"logits": NAME, "embedding": NAME, "groups": NAME}}.
//   A foreign backbone (ONNX / Keras import) is described by the same JSON given separately; it
//   may have no labels (an embedding-only feature extractor).
class ImageTagger {
 public:
  // Keeps the model's graph (shared). `description` overrides the model's "tagger" metadata when
  // non-null. `ctx` is not owned and must outlive the tagger. Fails naming a missing output, a bad
  // input spec or labels that disagree with the logits' width.
  static Result<std::unique_ptr<ImageTagger>> create(const LoadedModel& model, Context* ctx,
                                                     const Json* description = nullptr);
  ~ImageTagger();

  const ImageInputSpec& input() const { return input_; }
  const std::vector<std::string>& labels() const { return labels_; }
  const std::vector<TagGroupSpec>& groups() const { return groups_; }
  bool has_logits() const { return classes_ >= 0 && classes_are_logits_; }
  bool has_embedding() const { return embedding_ >= 0; }
  int64_t embedding_dim() const { return embedding_dim_; }

  // Runs the model on n pre-processed images `x` (n, model input). Fills (each optional):
  //   probabilities (n, labels) softmax of the logits, groups (n, G), embeddings (n, D).
  Status run(const float* x, int64_t n, std::vector<float>* probabilities, std::vector<float>* groups,
             std::vector<float>* embeddings);

  // Tags n pre-processed images `x`: the model's classes and groups, and the store's own tags
  // when `head` is non-null (it needs the embedding output). See merge_tags for the order.
  Result<std::vector<std::vector<Tag>>> tag(const float* x, int64_t n, const TagHead* head, const TagRequest& request);

 private:
  ImageTagger() = default;
  std::shared_ptr<Graph> graph_;
  std::unique_ptr<Executor> executor_;
  Context* ctx_ = nullptr;
  ImageInputSpec input_;
  std::vector<std::string> labels_;
  std::vector<TagGroupSpec> groups_;
  int classes_ = -1, groups_out_ = -1, embedding_ = -1;  // graph output indices (-1: none)
  bool classes_are_logits_ = true;                       // false: the model outputs probabilities
  int64_t embedding_dim_ = 0;
};

// ---- few-shot heads ---------------------------------------------------------------------------

struct HeadTrainOptions {
  int64_t steps = 150;          // full-batch Adam steps
  double learning_rate = 0.01;
  double weight_decay = 1e-3;   // L2 on the weights
  uint32_t seed = 20261128;
};

// Returns false to cancel training.
using HeadProgressFn = std::function<bool(int64_t step, int64_t steps, double loss)>;

// Trains a TagHead step by step (so a caller can yield, report progress or stop in between):
// full-batch Adam on softmax cross-entropy over the L2-normalized embeddings.
class TagHeadTrainer {
 public:
  // Copies the examples: embeddings (n, dim) with labels in [0, tags.size()); needs >= 2 tags,
  // each with an example, and finite, non-zero embeddings. `ctx` is not owned.
  static Result<std::unique_ptr<TagHeadTrainer>> create(const float* embeddings, int64_t n, int64_t dim,
                                                        const std::vector<int32_t>& labels,
                                                        const std::vector<std::string>& tags,
                                                        const HeadTrainOptions& options, Context* ctx);
  ~TagHeadTrainer();
  // Runs up to `steps` more steps (never past options.steps); returns the last step's loss.
  Result<double> run(int64_t steps);
  int64_t steps_done() const { return done_; }
  int64_t steps_total() const { return total_; }
  // The head with the current weights.
  Result<std::unique_ptr<TagHead>> head() const;

 private:
  TagHeadTrainer() = default;
  std::shared_ptr<Graph> graph_;
  std::unique_ptr<class Trainer> trainer_;
  std::vector<float> x_;  // (n, dim) normalized
  Tensor target_;         // (n)
  std::vector<std::string> tags_;
  int64_t n_ = 0, dim_ = 0, done_ = 0, total_ = 0;
  double loss_ = 0.0;
};

// A softmax classifier over L2-normalized embeddings: p = softmax(W · e / ||e|| + b).
class TagHead {
 public:
  // Trains on embeddings (n, dim) with labels in [0, tags.size()); needs >= 2 tags, each with an
  // example, finite embeddings. Cancelled -> Status Cancelled.
  static Result<std::unique_ptr<TagHead>> train(const float* embeddings, int64_t n, int64_t dim,
                                                const std::vector<int32_t>& labels, const std::vector<std::string>& tags,
                                                const HeadTrainOptions& options, Context* ctx,
                                                const HeadProgressFn& progress = nullptr);
  // A head saved by save() (a Vitrine model file with metadata "tag_head": {"tags": [...]}).
  static Result<std::unique_ptr<TagHead>> load(std::shared_ptr<const std::vector<uint8_t>> bytes);
  Result<std::vector<uint8_t>> save() const;

  const std::vector<std::string>& tags() const { return tags_; }
  int64_t dim() const { return dim_; }
  // probabilities (n, tags) for embeddings (n, dim).
  Status predict(const float* embeddings, int64_t n, std::vector<float>* probabilities) const;
  // The request's top tags (kind kCustom) for embeddings (n, dim), best first.
  Result<std::vector<std::vector<Tag>>> classify(const float* embeddings, int64_t n, const TagRequest& request) const;

 private:
  friend class TagHeadTrainer;
  TagHead() = default;
  std::vector<std::string> tags_;
  int64_t dim_ = 0;
  std::vector<float> w_;  // (tags, dim)
  std::vector<float> b_;  // (tags)
};

// ---- similar images ---------------------------------------------------------------------------

// Catalogue embeddings (L2-normalized at insertion) searched by cosine similarity.
class EmbeddingIndex {
 public:
  explicit EmbeddingIndex(int64_t dim) : dim_(dim) {}
  int64_t dim() const { return dim_; }
  int64_t size() const { return static_cast<int64_t>(ids_.size()); }
  const std::string& id(int64_t i) const { return ids_[static_cast<size_t>(i)]; }
  // Adds or replaces `id`. Fails on a wrong dimension, non-finite or all-zero vector, empty id.
  Status add(const std::string& id, const float* embedding);
  Status remove(const std::string& id);
  // The k most similar entries to `query` (cosine, best first), skipping `exclude_id` if given.
  Result<std::vector<ScoredItem>> search(const float* query, int64_t k, const std::string& exclude_id = "") const;

 private:
  int64_t dim_;
  std::vector<std::string> ids_;
  std::vector<float> rows_;  // (size, dim), unit norm
};

}  // namespace vitrine
