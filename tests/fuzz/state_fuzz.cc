// libFuzzer harness: the user state that the web facade hands back to the engine. The first byte
// picks what the rest is:
//   0: a saved few-shot tag head (TagHead::load, then predict on a fixed embedding);
//   1: a shopper's history for the shipped recommender (models/recommend/movielens.safetensors or
//      $VITRINE_FUZZ_RECOMMEND_MODEL): events of (int32 item index, f32 weight) from the bytes, as
//      they come from stored state, through fold_in, scoring, top-k, MMR and explanations;
//   2: a raw item table (RecModel::from_table): n, d, precision, ids and rows from the bytes, then
//      a fold-in with events from the bytes.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <vector>

#include "fuzz_util.h"
#include "run_util.h"
#include "vitrine/recommend.h"
#include "vitrine/tag.h"

using namespace vitrine;

static std::unique_ptr<RecModel> g_rec;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::set_fuzz_limits();
  auto bytes = std::make_shared<const std::vector<uint8_t>>(
      fuzz::read_fixture("VITRINE_FUZZ_RECOMMEND_MODEL", "models/recommend/movielens.safetensors"));
  Result<LoadedModel> model = load_model(bytes);
  Result<std::unique_ptr<RecModel>> rec =
      model.ok() ? RecModel::create(model.value(), TablePrecision::kF32) : Result<std::unique_ptr<RecModel>>(model.status());
  if (!rec.ok()) {
    std::fprintf(stderr, "recommender model: %s\n", rec.status().to_string().c_str());
    std::exit(2);
  }
  g_rec = std::move(rec).value();
  return 0;
}

static std::vector<HistoryEvent> read_events(fuzz::ByteReader& in, size_t max_events) {
  std::vector<HistoryEvent> events;
  const size_t count = in.u8() % (max_events + 1);
  for (size_t i = 0; i < count && in.left() > 0; ++i) {
    HistoryEvent e;
    e.item = static_cast<int32_t>(in.u32());
    e.weight = in.f32();
    events.push_back(e);
  }
  return events;
}

// Fold-in, scoring, top-k, MMR and explanations for a history read from the bytes. `full`: score
// every item and search similar items (small tables); otherwise (the shipped 6,169-item model,
// ~5 ms per full scoring under the sanitizers) score one window of at most 256 items, chosen by the
// bytes, so that each input stays cheap.
static void use(const RecModel& m, fuzz::ByteReader& in, bool full) {
  const std::vector<HistoryEvent> history = read_events(in, 64);
  std::vector<float> user;
  Status status = m.fold_in(history, &user);
  if (!status.ok()) return;
  for (const HistoryEvent& e : history) {  // fold_in accepted them: they must be valid
    if (e.item < 0 || e.item >= m.num_items() || !(e.weight > 0) || !std::isfinite(e.weight)) {
      std::fprintf(stderr, "fold_in accepted event (%d, %g)\n", e.item, e.weight);
      std::abort();
    }
  }
  if (static_cast<int64_t>(user.size()) != m.dim()) std::abort();
  int64_t begin = 0, end = m.num_items();
  if (!full && end > 256) {
    begin = static_cast<int64_t>(in.u16()) % (end - 255);
    end = begin + 256;
  }
  const int64_t n = end - begin;
  std::vector<float> scores(static_cast<size_t>(n));
  if (full) m.score(user.data(), scores.data(), nullptr);
  else m.table().score(user.data(), nullptr, scores.data(), begin, end);
  std::vector<uint8_t> excluded(static_cast<size_t>(n), 0);
  for (const HistoryEvent& e : history) {
    if (e.item >= begin && e.item < end) excluded[static_cast<size_t>(e.item - begin)] = 1;
  }
  const int64_t k = in.u8();
  std::vector<ScoredItem> top = top_k(scores.data(), n, k, excluded.data());
  if (static_cast<int64_t>(top.size()) > k) std::abort();
  for (ScoredItem& item : top) item.item += static_cast<int32_t>(begin);
  const double diversity = (in.u8() % 11) / 10.0;
  (void)mmr(top, m.table(), k / 2, diversity);
  if (!top.empty()) {
    (void)m.explain(top[0].item, history);
    if (full) (void)m.similar_items(top[0].item, k % 16, nullptr);
  }
  (void)m.find_item(in.bytes(in.u8() % 16));
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::ByteReader in(data, size);
  const uint8_t mode = in.u8() % 3;
  if (mode == 0) {
    auto bytes = std::make_shared<const std::vector<uint8_t>>(in.here(), in.here() + in.left());
    Result<std::unique_ptr<TagHead>> head = TagHead::load(bytes);
    if (head.ok() && head.value()->dim() <= (int64_t{1} << 16)) {
      std::vector<float> embedding(static_cast<size_t>(head.value()->dim()), 0.25f);
      std::vector<float> probabilities;
      if (head.value()->predict(embedding.data(), 1, &probabilities).ok() &&
          probabilities.size() != head.value()->tags().size()) {
        std::abort();
      }
    }
  } else if (mode == 1) {
    use(*g_rec, in, false);
  } else {
    const int64_t n = in.u8() % 33, d = in.u8() % 9;
    const TablePrecision precision = static_cast<TablePrecision>(in.u8() % 3);
    const uint8_t flags = in.u8();
    std::vector<std::string> ids;
    if (flags & 1) {
      for (int64_t i = 0; i < n; ++i) ids.push_back(in.bytes(in.u8() % 4));
    }
    std::vector<float> rows(static_cast<size_t>(n * d));
    for (float& v : rows) v = (flags & 2) ? in.f32() : static_cast<float>(static_cast<int8_t>(in.u8())) / 16.0f;
    std::vector<float> bias(static_cast<size_t>(n));
    for (float& v : bias) v = static_cast<float>(static_cast<int8_t>(in.u8())) / 8.0f;
    Result<std::unique_ptr<RecModel>> rec =
        RecModel::from_table(ids, rows.data(), n, d, (flags & 4) ? bias.data() : nullptr, precision);
    if (rec.ok()) use(*rec.value(), in, true);
  }
  return 0;
}
