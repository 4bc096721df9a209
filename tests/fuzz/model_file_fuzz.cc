// libFuzzer harness: model files of every kind. The bytes go through the generic loader
// (load_model: Vitrine safetensors or ONNX) and each task's loader: recommender (RecModel),
// image tagger (ImageTagger), review model (ReviewModel::load) and few-shot head (TagHead::load).
// What loads is used once, cheaply (a fold-in and a score, a predict, a small graph run).
#include <memory>
#include <vector>

#include "fuzz_util.h"
#include "run_util.h"
#include "vitrine/model_file.h"
#include "vitrine/recommend.h"
#include "vitrine/safetensors.h"
#include "vitrine/tag.h"
#include "vitrine/text.h"

using namespace vitrine;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::set_fuzz_limits();
  return 0;
}

static void use_recommender(const LoadedModel& model, TablePrecision precision) {
  Result<std::unique_ptr<RecModel>> rec = RecModel::create(model, precision);
  if (!rec.ok()) return;
  const RecModel& m = *rec.value();
  std::vector<HistoryEvent> history;
  for (int64_t i = 0; i < m.num_items() && i < 3; ++i) history.push_back({static_cast<int32_t>(i), 1.0f});
  std::vector<float> user;
  if (!m.fold_in(history, &user).ok()) return;
  std::vector<float> scores(static_cast<size_t>(m.num_items()));
  m.score(user.data(), scores.data(), nullptr);
  (void)top_k(scores.data(), m.num_items(), 5, nullptr);
  if (m.num_items() > 0) {
    (void)m.similar_items(0, 5, nullptr);
    (void)m.explain(0, history);
    (void)m.find_item(m.item_id(0));
  }
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto bytes = std::make_shared<const std::vector<uint8_t>>(data, data + size);
  Result<SafetensorsFile> file = SafetensorsFile::parse(bytes);
  if (file.ok()) (void)check_vitrine_metadata(file.value());

  Result<LoadedModel> model = load_model(bytes);
  if (model.ok()) {
    use_recommender(model.value(), TablePrecision::kF32);
    use_recommender(model.value(), TablePrecision::kInt8);
    if (Context* ctx = fuzz::fuzz_context()) {
      Result<std::unique_ptr<ImageTagger>> tagger = ImageTagger::create(model.value(), ctx);
      (void)tagger;
    }
    fuzz::run_once_if_small(model->graph);
  }

  if (Context* ctx = fuzz::fuzz_context()) {
    Result<std::unique_ptr<ReviewModel>> review = ReviewModel::load(bytes, ctx);
    if (review.ok()) {
      (void)review.value()->predict(tokenize("Not bad at all, but the price was too high!"));
      Result<std::vector<uint8_t>> saved = review.value()->save();
      (void)saved;
    }
  }

  Result<std::unique_ptr<TagHead>> head = TagHead::load(bytes);
  if (head.ok() && head.value()->dim() <= (int64_t{1} << 16)) {
    std::vector<float> embedding(static_cast<size_t>(head.value()->dim()), 0.5f);
    std::vector<float> probabilities;
    (void)head.value()->predict(embedding.data(), 1, &probabilities);
    (void)head.value()->save();
  }
  return 0;
}
