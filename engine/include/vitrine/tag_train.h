// Training the default image tagger (a small VGG-style CNN) with the engine's graph + Trainer,
// natively (the same code builds for wasm). The result is a Vitrine model file's content whose
// "tagger" metadata ImageTagger (tag.h) reads.
//
// Training graph, NHWC:   image (B, H, W, C), normalized with the training set's mean/std
//   [conv3x3(w) -> batch_norm -> relu] x2 -> max_pool 2x2        (w = widths[0], then widths[1], ...)
//   ... one such block per width ...
//   flatten -> dense(embedding_dim) -> batch_norm -> relu -> dropout -> dense(classes) = logits
// Saved inference graph: the same with batch norms folded into the convolutions / dense layer and
// three outputs: "logits" (N, classes), "embedding" (N, embedding_dim) (the penultimate layer)
// and, when groups are given, "groups" (N, G) = softmax(logits) · membership (the probability that
// the image belongs to each coarse group).
//
// Augmentation (every epoch, seeded): random shifts of up to `shift` pixels (zero fill) and
// horizontal flips. The epoch with the best validation accuracy is kept.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "vitrine/context.h"
#include "vitrine/model_file.h"
#include "vitrine/status.h"

namespace vitrine {

// Labelled 8-bit images, row-major (count, height, width, channels).
struct ImageSet {
  std::vector<uint8_t> pixels;  // (count, height, width, channels)
  std::vector<int32_t> labels;  // (count), class indices
  int64_t count = 0, height = 0, width = 0, channels = 1;

  // Images [begin, end) as a new set.
  ImageSet slice(int64_t begin, int64_t end) const;
};

// Reads an IDX image file (magic 0x00000803, uncompressed) and its IDX label file (0x00000801),
// as distributed for MNIST / Fashion-MNIST. Errors name the file and the bad field.
Result<ImageSet> read_idx(const std::string& images_path, const std::string& labels_path);

struct TagGroup {
  std::string name;
  std::vector<int32_t> members;  // class indices
};

struct TagTrainOptions {
  std::vector<std::string> labels;          // one per class
  std::vector<TagGroup> groups;             // optional coarse groups
  std::vector<int64_t> widths = {32, 64};   // conv channels per block (two convs per block); none = an MLP
  int64_t embedding_dim = 128;
  double dropout = 0.3;
  int64_t epochs = 15;
  int64_t batch_size = 64;
  double learning_rate = 2e-3;
  double weight_decay = 0.05;              // adamw, decoupled (p -= lr·wd·p)
  std::string schedule = "cosine";          // "constant" | "cosine" (to 0 over all epochs)
  double label_smoothing = 0.0;
  int64_t shift = 2;                        // augmentation: max shift in pixels (0 = none)
  bool flip = true;                         // augmentation: horizontal flips
  uint32_t seed = 20261128;
  int64_t max_train = 0;                    // > 0: use only the first max_train training images
};

// Called after every epoch: epoch (1-based), mean training loss, validation accuracy, seconds.
using TagProgressFn = std::function<void(int64_t epoch, double loss, double accuracy, double seconds)>;

struct TagTrainResult {
  LoadedModel model;
  int64_t best_epoch = 0;
  double best_accuracy = 0.0;  // on the validation set
  std::vector<double> epoch_losses, epoch_accuracies;
};

Result<TagTrainResult> train_tagger(const ImageSet& train, const ImageSet& validation, const TagTrainOptions& options,
                                    Context* ctx, const TagProgressFn& progress = nullptr);

// Top-1 accuracy of a tagger model's "logits" output on `data` (batches of `batch` images).
Result<double> tagger_accuracy(const LoadedModel& model, const ImageSet& data, Context* ctx, int64_t batch = 256,
                               std::vector<int32_t>* predictions = nullptr);

}  // namespace vitrine
