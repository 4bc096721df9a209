// vitrine-recommend: trains recommender model files and ranks with them (natively).
//
//   vitrine-recommend train --kind mult-dae|mf-bpr|gru4rec|linear --histories H.txt --items ITEMS.txt
//       --save OUT.safetensors [--half (store weights as F16)] [--dim D] [--embedding-dim E] [--dropout P] [--epochs N]
//       [--batch-size B] [--max-length T] [--lr LR] [--weight-decay W] [--optimizer adam|adamw] [--schedule constant|cosine] [--seed S]
//       [--fold-in-epochs N] [--fold-in-lr LR] [--fold-in-l2 W] [--l2 LAMBDA (linear; --dropout is its emphasis)]
//       [--val-histories VH.txt --val-targets VT.txt [--val-k K] [--eval-every N]] [--threads N]
//   vitrine-recommend delta --from OLD.safetensors --to NEW.safetensors --out DELTA.safetensors
//                          [--tolerance T (changes up to T are not sent; default 0)] [--half]
//       writes the item delta (recommend.h ItemDelta) that gives OLD's items NEW's: what a store
//       ships instead of NEW when only items were added, removed or re-fitted; prints one JSON line.
//   vitrine-recommend compact MODEL --out COMPACT.safetensors [--rows float|int8|pq:M] [--fold float|int8|pq:M] [--f32]
//       writes the compact file of a model (RecModel::save_compact): no training graph, the score
//       rows and fold-in rows stored as asked (PQ: M one-byte codes per item), other values F16
//       unless --f32. rank, delta and the facade read it like a model file. --content CATALOG.json
//       ([{id, title, description, categories, year}] or {"items": [...]}) fits and stores the
//       content map that places new items (addItems) [--buckets B, default 2048] [--lambda L,
//       default: chosen on held-out items].
//   vitrine-recommend synth --kind mult-dae|mf-bpr --items N --dim D --out F [--seed S]
//       a synthetic catalogue model (clustered random item vectors, compact float F16 file) for
//       `npm run bench -- catalogue`.
//   vitrine-recommend blend --linear LINEAR.safetensors --dae MULT_DAE.safetensors --out BLEND.safetensors
//                          --scale-histories H.txt (--share S | --val-histories VH.txt --val-targets VT.txt [--val-k K])
//                          [--f32] [--threads N]
//       a compact blend of a linear model and a Mult-DAE over the same items (RecModel::blend):
//       score = (1 - S) * linear / scale + S * Mult-DAE / scale', each scale the mean over H's users
//       of the standard deviation of their scores; S given or chosen on the validation users
//       (NDCG@K, S = 0, 0.1, ..., 1). Prints one JSON line (share, scales, validation per S, bytes).
//   vitrine-recommend rank MODEL --histories H.txt --k K --out RANKED.txt [--precision f32|f16|int8]
//                          [--add-items CONTENT.json (new items placed by the model's content map;
//                           their indices follow the model's)] [--candidates IDS.txt (rank only these)]
//                          [--diversity D]   (MMR re-ranking, as recommend({ diversity }) in the facade)
//       [--threads N]
//
// Histories files hold one user per line: item indices (0-based rows of ITEMS.txt, one id per
// line) separated by spaces, oldest first; an empty line is a user without history. With
// validation data, NDCG@K (K = 100 by default) of the validation users' targets, ranked after
// folding in their histories (history items excluded), is computed every --eval-every epochs and
// the best epoch's weights are saved. train prints one JSON line with the outcome; rank writes the
// K best item indices per user (history items excluded), one user per line.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "tool_util.h"
#include "vitrine/json.h"
#include "vitrine/model_file.h"
#include "vitrine/safetensors.h"
#include "vitrine/recommend.h"
#include "vitrine/recommend_train.h"

using namespace vitrine;

namespace {

int fail(const Status& s) { return tools::fail("vitrine-recommend", s); }

Result<std::vector<std::vector<int32_t>>> read_histories(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::NotFound("cannot open " + path);
  std::vector<std::vector<int32_t>> out;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ss(line);
    std::vector<int32_t> h;
    std::string tok;
    while (ss >> tok) {
      char* end = nullptr;
      const long v = std::strtol(tok.c_str(), &end, 10);
      if (*end != '\0' || v < 0 || v > INT32_MAX) {
        return Status::InvalidArgument(path + ":" + std::to_string(out.size() + 1) + ": bad item index '" + tok + "'");
      }
      h.push_back(static_cast<int32_t>(v));
    }
    out.push_back(std::move(h));
  }
  return out;
}

Result<std::vector<std::string>> read_lines(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::NotFound("cannot open " + path);
  std::vector<std::string> out;
  std::string line;
  while (std::getline(in, line)) out.push_back(line);
  return out;
}

// Item content (title, categories, year ...) from a JSON file: an array or {"items": [...]}.
Result<std::vector<ItemContent>> read_content(const std::string& path) {
  VITRINE_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, read_binary_file(path));
  Result<Json> j = parse_json(std::string(bytes.begin(), bytes.end()));
  if (!j.ok()) return Status(j.status().code(), path + ": " + j.status().message());
  Result<std::vector<ItemContent>> c = parse_item_content(j->ref(path));
  if (!c.ok()) return Status(c.status().code(), path + ": " + c.status().message());
  return c;
}

std::vector<HistoryEvent> events(const std::vector<int32_t>& h) {
  std::vector<HistoryEvent> e;
  e.reserve(h.size());
  for (int32_t i : h) e.push_back({i, 1.0f});
  return e;
}

// The k best items for each history (history items excluded), through the same ranking pipeline
// as the facade (recommend() in recommend.h); diversity > 0 re-ranks with MMR.
Result<std::vector<std::vector<ScoredItem>>> rank_all(const RecModel& m, const std::vector<std::vector<int32_t>>& hs,
                                                      int64_t k, Context* ctx, double diversity = 0,
                                                      const std::vector<int32_t>& candidates = {}) {
  std::vector<float> user;
  std::vector<std::vector<ScoredItem>> out;
  out.reserve(hs.size());
  RecommendRequest r;
  r.k = k;
  r.candidates = candidates;
  r.diversity = diversity;
  r.explain = false;
  for (size_t u = 0; u < hs.size(); ++u) {
    r.history = events(hs[u]);
    Status s = m.fold_in(r.history, &user);
    Result<std::vector<Recommendation>> ranked = s.ok() ? recommend(m, nullptr, user.data(), r, ctx) : Result<std::vector<Recommendation>>(s);
    if (!ranked.ok()) return Status(ranked.status().code(), "user " + std::to_string(u) + ": " + ranked.status().message());
    std::vector<ScoredItem> row;
    row.reserve(ranked->size());
    for (const Recommendation& x : ranked.value()) row.push_back({x.item, x.score});
    out.push_back(std::move(row));
  }
  return out;
}

int train_main(int argc, char** argv) {
  RecTrainOptions o;
  std::string histories, items, save, val_h, val_t;
  int64_t val_k = 100, threads = 0;
  bool half = false;
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--kind") o.kind = next();
    else if (a == "--histories") histories = next();
    else if (a == "--items") items = next();
    else if (a == "--save") save = next();
    else if (a == "--half") half = true;
    else if (a == "--dim") o.dim = std::atoll(next().c_str());
    else if (a == "--embedding-dim") o.embedding_dim = std::atoll(next().c_str());
    else if (a == "--dropout") o.dropout = std::atof(next().c_str());
    else if (a == "--l2") o.l2 = std::atof(next().c_str());
    else if (a == "--epochs") o.epochs = std::atoll(next().c_str());
    else if (a == "--batch-size") o.batch_size = std::atoll(next().c_str());
    else if (a == "--max-length") o.max_length = std::atoll(next().c_str());
    else if (a == "--lr") o.learning_rate = std::atof(next().c_str());
    else if (a == "--weight-decay") o.weight_decay = std::atof(next().c_str());
    else if (a == "--optimizer") o.optimizer = next();
    else if (a == "--schedule") o.schedule = next();
    else if (a == "--seed") o.seed = static_cast<uint32_t>(std::atoll(next().c_str()));
    else if (a == "--fold-in-epochs") o.fold_in_epochs = std::atoll(next().c_str());
    else if (a == "--fold-in-lr") o.fold_in_lr = std::atof(next().c_str());
    else if (a == "--fold-in-l2") o.fold_in_l2 = std::atof(next().c_str());
    else if (a == "--val-histories") val_h = next();
    else if (a == "--val-targets") val_t = next();
    else if (a == "--val-k") val_k = std::atoll(next().c_str());
    else if (a == "--eval-every") o.eval_every = std::atoll(next().c_str());
    else if (a == "--threads") threads = std::atoll(next().c_str());
    else return fail(Status::InvalidArgument("unknown option " + a));
  }
  if (histories.empty() || items.empty() || save.empty()) {
    return fail(Status::InvalidArgument("train needs --histories, --items and --save"));
  }
  if (val_h.empty() != val_t.empty()) return fail(Status::InvalidArgument("--val-histories and --val-targets go together"));
  RecTrainData data;
  Result<std::vector<std::vector<int32_t>>> h = read_histories(histories);
  if (!h.ok()) return fail(h.status());
  data.histories = std::move(h).value();
  Result<std::vector<std::string>> ids = read_lines(items);
  if (!ids.ok()) return fail(ids.status());
  data.item_ids = std::move(ids).value();
  Result<std::unique_ptr<Context>> ctx = Context::create(static_cast<int>(threads), 0);
  if (!ctx.ok()) return fail(ctx.status());

  RecHeldOut held_out;
  RecValidateFn validate;
  if (!val_h.empty()) {
    Result<std::vector<std::vector<int32_t>>> a = read_histories(val_h), b = read_histories(val_t);
    if (!a.ok()) return fail(a.status());
    if (!b.ok()) return fail(b.status());
    held_out.histories = std::move(a).value();
    held_out.targets = std::move(b).value();
    if (held_out.histories.size() != held_out.targets.size()) {
      return fail(Status::InvalidArgument("validation histories and targets differ in users"));
    }
    validate = ndcg_validator(held_out, val_k, ctx.value().get());
  }
  const auto t0 = std::chrono::steady_clock::now();
  Result<RecTrainResult> r = train_recommender(data, o, ctx.value().get(), validate,
                                               [&](int64_t epoch, double loss, double val) {
                                                 std::fprintf(stderr, "epoch %lld loss %.5f", static_cast<long long>(epoch), loss);
                                                 if (!std::isnan(val)) std::fprintf(stderr, " val ndcg@%lld %.4f", static_cast<long long>(val_k), val);
                                                 std::fprintf(stderr, "\n");
                                               });
  if (!r.ok()) return fail(r.status());
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  Result<std::vector<uint8_t>> bytes = save_model(*r->model.graph, r->model.metadata, half);
  if (!bytes.ok()) return fail(bytes.status());
  Status s = write_binary_file(save, bytes.value());
  if (!s.ok()) return fail(s);
  std::printf("{\"kind\": \"%s\", \"best_epoch\": %lld, \"best_validation\": %s, \"seconds\": %.2f, \"bytes\": %zu}\n",
              o.kind.c_str(), static_cast<long long>(r->best_epoch),
              std::isnan(r->best_validation) ? "null" : std::to_string(r->best_validation).c_str(), seconds,
              bytes->size());
  return 0;
}

int rank_main(int argc, char** argv) {
  if (argc < 3) return fail(Status::InvalidArgument("rank needs a MODEL"));
  const std::string model_path = argv[2];
  std::string histories, out_path, precision = "f32", add_items, candidates_path;
  int64_t k = 100, threads = 1;
  double diversity = 0;
  for (int i = 3; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--histories") histories = next();
    else if (a == "--k") k = std::atoll(next().c_str());
    else if (a == "--out") out_path = next();
    else if (a == "--precision") precision = next();
    else if (a == "--threads") threads = std::atoll(next().c_str());
    else if (a == "--diversity") diversity = std::atof(next().c_str());
    else if (a == "--add-items") add_items = next();
    else if (a == "--candidates") candidates_path = next();
    else return fail(Status::InvalidArgument("unknown option " + a));
  }
  if (histories.empty() || out_path.empty() || k < 1) return fail(Status::InvalidArgument("rank needs --histories, --out and --k >= 1"));
  Result<TablePrecision> p = parse_precision(precision);
  if (!p.ok()) return fail(p.status());
  Result<std::vector<uint8_t>> bytes = read_binary_file(model_path);
  if (!bytes.ok()) return fail(bytes.status());
  Result<std::unique_ptr<RecModel>> m = RecModel::load(std::make_shared<const std::vector<uint8_t>>(std::move(bytes).value()), p.value());
  if (!m.ok()) return fail(m.status());
  if (!add_items.empty()) {
    Result<std::vector<ItemContent>> items = read_content(add_items);
    if (!items.ok()) return fail(items.status());
    Status s = m.value()->add_items(items.value());
    if (!s.ok()) return fail(s);
  }
  std::vector<int32_t> candidates;
  if (!candidates_path.empty()) {
    Result<std::vector<std::string>> ids = read_lines(candidates_path);
    if (!ids.ok()) return fail(ids.status());
    for (const std::string& id : ids.value()) {
      if (id.empty()) continue;
      Result<int32_t> i = m.value()->find_item(id);
      if (!i.ok()) return fail(i.status());
      candidates.push_back(i.value());
    }
  }
  Result<std::vector<std::vector<int32_t>>> h = read_histories(histories);
  if (!h.ok()) return fail(h.status());
  Result<std::unique_ptr<Context>> ctx = Context::create(static_cast<int>(threads), 0);
  if (!ctx.ok()) return fail(ctx.status());
  Result<std::vector<std::vector<ScoredItem>>> ranked = rank_all(*m.value(), h.value(), k, ctx.value().get(), diversity, candidates);
  if (!ranked.ok()) return fail(ranked.status());
  std::FILE* f = std::fopen(out_path.c_str(), "w");
  if (!f) return fail(Status::NotFound("cannot write " + out_path));
  for (const auto& row : ranked.value()) {
    for (size_t r = 0; r < row.size(); ++r) std::fprintf(f, r ? " %d" : "%d", row[r].item);
    std::fprintf(f, "\n");
  }
  std::fclose(f);
  return 0;
}

Result<std::unique_ptr<RecModel>> read_rec_model(const std::string& path) {
  VITRINE_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, read_binary_file(path));
  return RecModel::load(std::make_shared<const std::vector<uint8_t>>(std::move(bytes)), TablePrecision::kF32);
}

// A synthetic catalogue model for benchmarks (bytes, load, latency by catalogue size): random
// clustered item vectors (64 clusters, so that quantization meets structure as in trained
// tables), 7-digit item ids, written as a compact float file.
int synth_main(int argc, char** argv) {
  std::string kind = "mult-dae", out;
  int64_t n = 100000, d = 64;
  uint32_t seed = 1;
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--kind") kind = next();
    else if (a == "--items") n = std::atoll(next().c_str());
    else if (a == "--dim") d = std::atoll(next().c_str());
    else if (a == "--seed") seed = static_cast<uint32_t>(std::atoll(next().c_str()));
    else if (a == "--out") out = next();
    else return fail(Status::InvalidArgument("unknown option " + a));
  }
  if (out.empty() || n < 1 || n > 10000000 || d < 1 || d > 4096 || (kind != "mult-dae" && kind != "mf-bpr")) {
    return fail(Status::InvalidArgument("synth needs --out, --kind mult-dae|mf-bpr, 1 <= --items <= 1e7, 1 <= --dim <= 4096"));
  }
  uint64_t state = 0x9e3779b97f4a7c15ull * (seed + 1);
  auto uniform = [&]() {
    state ^= state >> 12;
    state ^= state << 25;
    state ^= state >> 27;
    return static_cast<double>((state * 0x2545f4914f6cdd1dull) >> 11) * (1.0 / 9007199254740992.0);
  };
  auto normal = [&]() { return static_cast<float>(std::sqrt(-2.0 * std::log(uniform() + 1e-300)) * std::cos(6.283185307179586 * uniform())); };
  auto table = [&](float scale) {
    std::vector<float> centers(static_cast<size_t>(64 * d)), rows(static_cast<size_t>(n * d));
    for (float& v : centers) v = normal() * scale;
    for (int64_t i = 0; i < n; ++i) {
      const int64_t c = static_cast<int64_t>(uniform() * 64) % 64;
      for (int64_t j = 0; j < d; ++j) rows[static_cast<size_t>(i * d + j)] = centers[static_cast<size_t>(c * d + j)] + 0.5f * scale * normal();
    }
    return rows;
  };
  Json items = Json::array();
  for (int64_t i = 0; i < n; ++i) items.push_back(std::to_string(1000000 + i * 7 % 9000000));
  Json meta = Json::object();
  meta.set("kind", kind);
  meta.set("items", std::move(items));
  if (kind == "mf-bpr") {
    Json f = Json::object();
    f.set("epochs", 20);
    f.set("lr", 0.05);
    f.set("l2", 0.001);
    meta.set("fold_in", std::move(f));
  }
  std::vector<std::pair<std::string, Tensor>> t;
  auto add = [&](const char* name, const std::vector<float>& v, Shape shape) -> Status {
    VITRINE_ASSIGN_OR_RETURN(Tensor x, Tensor::from_values(shape, v.data(), v.size()));
    t.emplace_back(name, std::move(x));
    return Status::Ok();
  };
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
  std::vector<float> bias(static_cast<size_t>(n));
  for (float& b : bias) b = normal() * 0.5f;
  Status s = add("rows", table(scale), Shape{n, d});
  if (s.ok() && kind == "mult-dae") s = add("fold", table(scale), Shape{n, d});
  if (s.ok()) s = add("bias", bias, Shape{n});
  if (s.ok() && kind == "mult-dae") s = add("enc.b", std::vector<float>(static_cast<size_t>(d), 0.0f), Shape{d});
  if (!s.ok()) return fail(s);
  Result<std::vector<uint8_t>> bytes = write_safetensors(
      t, {{"format", "vitrine"}, {"format_version", "2"}, {"recommender", meta.dump()},
          {"recommender_storage", R"({"rows":"float","rows_m":0,"fold":"float","fold_m":0})"}}, true);
  if (!bytes.ok()) return fail(bytes.status());
  s = write_binary_file(out, bytes.value());
  if (!s.ok()) return fail(s);
  std::printf("{\"items\": %lld, \"bytes\": %zu}\n", static_cast<long long>(n), bytes->size());
  return 0;
}

int compact_main(int argc, char** argv) {
  if (argc < 3) return fail(Status::InvalidArgument("compact needs a MODEL"));
  std::string out, rows = "float", fold = "float", content;
  int64_t buckets = ContentMap::kDefaultBuckets;
  double lambda = 0;
  bool half = true;
  for (int i = 3; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--out") out = next();
    else if (a == "--rows") rows = next();
    else if (a == "--fold") fold = next();
    else if (a == "--f32") half = false;
    else if (a == "--content") content = next();
    else if (a == "--buckets") buckets = std::atoll(next().c_str());
    else if (a == "--lambda") lambda = std::atof(next().c_str());
    else return fail(Status::InvalidArgument("unknown option " + a));
  }
  if (out.empty()) return fail(Status::InvalidArgument("compact needs --out"));
  Result<RecModel::CompactOptions> o = RecModel::compact_options(rows, fold, half);
  if (!o.ok()) return fail(o.status());
  Result<std::unique_ptr<RecModel>> m = read_rec_model(argv[2]);
  if (!m.ok()) return fail(m.status());
  const auto t0 = std::chrono::steady_clock::now();
  if (!content.empty()) {
    Result<std::vector<ItemContent>> items = read_content(content);
    if (!items.ok()) return fail(items.status());
    Status s = m.value()->fit_content(items.value(), buckets, lambda);
    if (!s.ok()) return fail(s);
  }
  Result<std::vector<uint8_t>> bytes = m.value()->save_compact(o.value());
  if (!bytes.ok()) return fail(bytes.status());
  Status s = write_binary_file(out, bytes.value());
  if (!s.ok()) return fail(s);
  std::printf("{\"items\": %lld, \"bytes\": %zu, \"seconds\": %.2f}\n", static_cast<long long>(m.value()->num_items()), bytes->size(),
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  return 0;
}

int delta_main(int argc, char** argv) {
  std::string from, to, out;
  double tolerance = 0;
  bool half = false;
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--from") from = next();
    else if (a == "--to") to = next();
    else if (a == "--out") out = next();
    else if (a == "--tolerance") tolerance = std::atof(next().c_str());
    else if (a == "--half") half = true;
    else return fail(Status::InvalidArgument("unknown option " + a));
  }
  if (from.empty() || to.empty() || out.empty()) return fail(Status::InvalidArgument("delta needs --from, --to and --out"));
  Result<std::unique_ptr<RecModel>> a = read_rec_model(from);
  if (!a.ok()) return fail(Status(a.status().code(), from + ": " + a.status().message()));
  Result<std::unique_ptr<RecModel>> b = read_rec_model(to);
  if (!b.ok()) return fail(Status(b.status().code(), to + ": " + b.status().message()));
  Result<ItemDelta> d = diff_items(*a.value(), *b.value(), static_cast<float>(tolerance));
  if (!d.ok()) return fail(d.status());
  Result<std::vector<uint8_t>> bytes = write_item_delta(d.value(), half);
  if (!bytes.ok()) return fail(bytes.status());
  Status s = write_binary_file(out, bytes.value());
  if (!s.ok()) return fail(s);
  std::printf("{\"removed\": %zu, \"upserted\": %zu, \"items\": %lld, \"bytes\": %zu}\n", d->remove.size(), d->upsert.size(),
              static_cast<long long>(a.value()->num_items() - static_cast<int64_t>(d->remove.size()) +
                                     static_cast<int64_t>(std::count_if(d->upsert.begin(), d->upsert.end(), [&](const std::string& id) {
                                       return !a.value()->find_item(id).ok();
                                     }))),
              bytes->size());
  return 0;
}

// The mean over `histories` (at most 500 users, empty ones skipped) of the standard deviation of
// a user's scores over every item: the scale that makes two models' scores comparable.
Result<double> score_scale(const RecModel& m, const std::vector<std::vector<int32_t>>& histories) {
  std::vector<float> user, scores(static_cast<size_t>(m.num_items()));
  double sum = 0;
  int64_t count = 0;
  for (size_t u = 0; u < histories.size() && count < 500; ++u) {
    if (histories[u].empty()) continue;
    std::vector<HistoryEvent> h;
    for (int32_t i : histories[u]) h.push_back({i, 1.0f});
    VITRINE_RETURN_IF_ERROR(m.fold_in(h, &user));
    m.score(user.data(), scores.data(), nullptr);
    double mean = 0, sq = 0;
    for (float x : scores) mean += x;
    mean /= static_cast<double>(scores.size());
    for (float x : scores) sq += (x - mean) * (x - mean);
    sum += std::sqrt(sq / static_cast<double>(scores.size()));
    ++count;
  }
  if (count == 0 || !(sum > 0)) return Status::InvalidArgument("blend: no history to measure the score scales on");
  return sum / static_cast<double>(count);
}

int blend_main(int argc, char** argv) {
  std::string linear, dae, out, scale_h, val_h, val_t;
  double share = -1;
  int64_t val_k = 100, threads = 0;
  bool half = true;
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--linear") linear = next();
    else if (a == "--dae") dae = next();
    else if (a == "--out") out = next();
    else if (a == "--share") share = std::atof(next().c_str());
    else if (a == "--scale-histories") scale_h = next();
    else if (a == "--val-histories") val_h = next();
    else if (a == "--val-targets") val_t = next();
    else if (a == "--val-k") val_k = std::atoll(next().c_str());
    else if (a == "--threads") threads = std::atoll(next().c_str());
    else if (a == "--f32") half = false;
    else return fail(Status::InvalidArgument("unknown option " + a));
  }
  if (linear.empty() || dae.empty() || out.empty() || scale_h.empty()) {
    return fail(Status::InvalidArgument("blend needs --linear, --dae, --out and --scale-histories"));
  }
  if ((share < 0) == val_h.empty() || val_h.empty() != val_t.empty() || share > 1) {
    return fail(Status::InvalidArgument("blend needs either --share S (0..1) or --val-histories and --val-targets"));
  }
  Result<std::unique_ptr<RecModel>> a = read_rec_model(linear), b = read_rec_model(dae);
  if (!a.ok()) return fail(Status(a.status().code(), linear + ": " + a.status().message()));
  if (!b.ok()) return fail(Status(b.status().code(), dae + ": " + b.status().message()));
  Result<std::vector<std::vector<int32_t>>> sh = read_histories(scale_h);
  if (!sh.ok()) return fail(sh.status());
  Result<double> sa = score_scale(*a.value(), sh.value()), sb = score_scale(*b.value(), sh.value());
  if (!sa.ok()) return fail(sa.status());
  if (!sb.ok()) return fail(sb.status());
  Result<std::unique_ptr<Context>> ctx = Context::create(static_cast<int>(threads), 0);
  if (!ctx.ok()) return fail(ctx.status());
  auto make = [&](double s) { return RecModel::blend(*a.value(), *b.value(), (1 - s) / sa.value(), s / sb.value()); };
  double best = std::numeric_limits<double>::quiet_NaN();
  std::string tried = "[]";
  if (share < 0) {  // the share of the Mult-DAE chosen on the validation users, 0 .. 1 by 0.1
    Result<std::vector<std::vector<int32_t>>> vh = read_histories(val_h), vt = read_histories(val_t);
    if (!vh.ok()) return fail(vh.status());
    if (!vt.ok()) return fail(vt.status());
    RecHeldOut held;
    held.histories = std::move(vh).value();
    held.targets = std::move(vt).value();
    Json list = Json::array();
    for (int step = 0; step <= 10; ++step) {
      const double s = step / 10.0;
      Result<std::unique_ptr<RecModel>> m = make(s);
      if (!m.ok()) return fail(m.status());
      Result<double> v = mean_ndcg(*m.value(), held, val_k, ctx.value().get());
      if (!v.ok()) return fail(v.status());
      Json e = Json::object();
      e.set("share", s);
      e.set("validation", v.value());
      list.push_back(std::move(e));
      if (std::isnan(best) || v.value() > best) {
        best = v.value();
        share = s;
      }
    }
    tried = list.dump();
  }
  Result<std::unique_ptr<RecModel>> m = make(share);
  if (!m.ok()) return fail(m.status());
  RecModel::CompactOptions o;
  o.half = half;
  Result<std::vector<uint8_t>> bytes = m.value()->save_compact(o);
  if (!bytes.ok()) return fail(bytes.status());
  Status s = write_binary_file(out, bytes.value());
  if (!s.ok()) return fail(s);
  std::printf("{\"share\": %.2f, \"scales\": [%.6g, %.6g], \"best_validation\": %s, \"tried\": %s, \"bytes\": %zu}\n", share,
              sa.value(), sb.value(), std::isnan(best) ? "null" : std::to_string(best).c_str(), tried.c_str(), bytes->size());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0) {
    std::fprintf(stderr, "usage: vitrine-recommend train|rank|delta|compact|blend|synth ... (see the comment at the top of "
                         "engine/tools/vitrine_recommend.cc)\n");
    return 2;
  }
  if (std::strcmp(argv[1], "train") == 0) return train_main(argc, argv);
  if (std::strcmp(argv[1], "rank") == 0) return rank_main(argc, argv);
  if (std::strcmp(argv[1], "delta") == 0) return delta_main(argc, argv);
  if (std::strcmp(argv[1], "compact") == 0) return compact_main(argc, argv);
  if (std::strcmp(argv[1], "synth") == 0) return synth_main(argc, argv);
  if (std::strcmp(argv[1], "blend") == 0) return blend_main(argc, argv);
  return fail(Status::InvalidArgument(std::string("unknown command '") + argv[1] + "' (train, rank, delta, compact, blend, synth)"));
}
