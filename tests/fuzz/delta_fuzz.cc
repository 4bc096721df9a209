// libFuzzer harness: the recommender files a store ships besides model files — item deltas
// (recommend.h ItemDelta: items added, changed, removed) and compact models (save_compact: PQ /
// int8 / float item tables). The first byte picks what the rest is:
//   0: a delta file, parsed (parse_item_delta) and applied to a small model whose fingerprint it is
//      given as base (so the checks after the fingerprint run too); a failed apply must leave the
//      model unchanged;
//   1: a target catalogue from the bytes (ids, rows, bias): the delta to it is diffed, written,
//      parsed back and applied, which must succeed and reach the promised fingerprint;
//   2: a compact model file (RecModel::load): when it loads, a fold-in, a full scoring, a
//      compact re-save that loads back with the same fingerprint, and (with a content map) a new
//      item placed by it.
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <vector>

#include "fuzz_util.h"
#include "vitrine/recommend.h"

using namespace vitrine;

namespace {

std::unique_ptr<RecModel> base_model() {
  const float rows[] = {1, 0, 0, 1, 1, 1, -1, 0.5f};
  const float bias[] = {0.1f, 0.2f, 0.3f, 0.4f};
  return RecModel::from_table({"a", "b", "c", "d"}, rows, 4, 2, bias, TablePrecision::kF32).value();
}

void check_usable(const RecModel& m) {
  std::vector<float> user, scores(static_cast<size_t>(m.num_items()));
  if (!m.fold_in({{0, 1.0f}}, &user).ok()) std::abort();
  m.score(user.data(), scores.data(), nullptr);
  for (int64_t i = 0; i < m.num_items(); ++i) {
    if (m.find_item(m.item_id(i)).value() != i) std::abort();  // the id index follows the rows
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::set_fuzz_limits();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::ByteReader in(data, size);
  const uint8_t mode = in.u8() % 3;
  if (mode == 2) {
    auto bytes = std::make_shared<const std::vector<uint8_t>>(in.here(), in.here() + in.left());
    Result<std::unique_ptr<RecModel>> m = RecModel::load(bytes, TablePrecision::kF32);
    if (!m.ok() || m.value()->num_items() > 4096 || m.value()->dim() > 1024) return 0;
    std::vector<float> user, scores(static_cast<size_t>(m.value()->num_items()));
    if (m.value()->fold_in({{0, 1.0f}}, &user).ok()) m.value()->score(user.data(), scores.data(), nullptr);
    RecModel::CompactOptions o;
    o.rows = m.value()->table().precision() == TablePrecision::kF16 ? TablePrecision::kF32 : m.value()->table().precision();
    o.rows_m = m.value()->table().pq_m();
    o.fold = m.value()->fold_table().precision() == TablePrecision::kF16 ? TablePrecision::kF32 : m.value()->fold_table().precision();
    o.fold_m = m.value()->fold_table().pq_m();
    o.half = false;
    Result<std::vector<uint8_t>> again = m.value()->save_compact(o);
    if (!again.ok()) return 0;  // e.g. a metadata string the writer refuses
    Result<std::unique_ptr<RecModel>> back = RecModel::load(std::make_shared<const std::vector<uint8_t>>(again.value()), TablePrecision::kF32);
    if (!back.ok() || back.value()->fingerprint() != m.value()->fingerprint()) {
      std::fprintf(stderr, "a re-saved compact model does not load back: %s\n", back.ok() ? "fingerprint" : back.status().to_string().c_str());
      std::abort();
    }
    // A content map that loaded places a new item (the id is one no file holds: ids are text).
    if (m.value()->content() != nullptr) {
      ItemContent it;
      it.id = std::string("\x01new", 4);
      it.title = "wool hat";
      it.categories = {"Hats", "Winter"};
      it.year = 2001;
      if (!m.value()->find_item(it.id).ok() && !m.value()->add_items({it}).ok()) {
        std::fprintf(stderr, "a loaded content map does not place a new item\n");
        std::abort();
      }
    }
    return 0;
  }
  std::unique_ptr<RecModel> m = base_model();
  const uint64_t before = m->fingerprint();
  if (mode == 0) {
    auto bytes = std::make_shared<const std::vector<uint8_t>>(in.here(), in.here() + in.left());
    Result<ItemDelta> d = parse_item_delta(bytes);
    if (!d.ok()) return 0;
    ItemDelta delta = std::move(d).value();
    delta.base = before;
    Status s = m->apply_delta(delta);
    if (s.ok()) {
      if (m->fingerprint() != delta.result) std::abort();
      check_usable(*m);
    } else if (m->fingerprint() != before || m->num_items() != 4) {
      std::abort();  // a refused delta changed the model
    }
    return 0;
  }
  const int64_t n = 1 + in.u8() % 12;
  std::vector<std::string> ids;
  std::vector<float> rows, bias;
  for (int64_t i = 0; i < n; ++i) {
    ids.push_back(in.bytes(in.u8() % 3));
    for (int j = 0; j < 2; ++j) rows.push_back(static_cast<float>(static_cast<int8_t>(in.u8())) / 8.0f);
    bias.push_back(static_cast<float>(static_cast<int8_t>(in.u8())) / 16.0f);
  }
  Result<std::unique_ptr<RecModel>> target = RecModel::from_table(ids, rows.data(), n, 2, bias.data(), TablePrecision::kF32);
  if (!target.ok()) return 0;  // duplicate ids
  Result<ItemDelta> d = diff_items(*m, *target.value(), (in.u8() % 4) / 8.0f);
  if (!d.ok()) std::abort();
  Result<std::vector<uint8_t>> bytes = write_item_delta(d.value(), in.u8() & 1);
  if (!bytes.ok()) return 0;  // ids that are not valid UTF-8: the writer refuses them
  Result<ItemDelta> back = parse_item_delta(std::make_shared<const std::vector<uint8_t>>(std::move(bytes).value()));
  if (!back.ok()) {
    std::fprintf(stderr, "a written delta does not parse: %s\n", back.status().to_string().c_str());
    std::abort();
  }
  Status s = m->apply_delta(back.value());
  if (s.ok()) {
    if (m->fingerprint() != d->result) std::abort();
    check_usable(*m);
  } else if (s.code() != StatusCode::kInvalidArgument) {  // only an empty id may be refused
    std::fprintf(stderr, "a diffed delta does not apply: %s\n", s.to_string().c_str());
    std::abort();
  }
  return 0;
}
