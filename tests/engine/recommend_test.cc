// Recommendation core: item tables, top-k, MMR, portable math, fold-in of every model kind
// (cross-checked against the saved inference graph run by the Executor), training, bad input.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <numeric>
#include <random>

#include "vitrine/graph.h"
#include "vitrine/json.h"
#include "vitrine/model_file.h"
#include "vitrine/recommend.h"
#include "vitrine/recommend_train.h"
#include "vitrine/safetensors.h"

namespace vitrine {
namespace {

std::vector<float> random_vec(size_t n, std::mt19937& rng, float scale = 1.0f) {
  std::normal_distribution<float> g(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = g(rng);
  return v;
}

// The reference top-k: a full sort with the same order (score desc, index asc).
std::vector<ScoredItem> sorted_top_k(const std::vector<float>& s, int64_t k, const std::vector<uint8_t>& ex) {
  std::vector<ScoredItem> all;
  for (size_t i = 0; i < s.size(); ++i)
    if (!std::isnan(s[i]) && (ex.empty() || !ex[i])) all.push_back({static_cast<int32_t>(i), s[i]});
  std::sort(all.begin(), all.end(), [](const ScoredItem& a, const ScoredItem& b) {
    return a.score > b.score || (a.score == b.score && a.item < b.item);
  });
  if (static_cast<int64_t>(all.size()) > k) all.resize(static_cast<size_t>(k));
  return all;
}

TEST(TopK, MatchesFullSortWithTiesNaNAndExclusions) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 200; ++trial) {
    const int64_t n = 1 + static_cast<int64_t>(rng() % 3000);
    const int64_t k = 1 + static_cast<int64_t>(rng() % 60);
    std::vector<float> s(static_cast<size_t>(n));
    for (float& x : s) x = static_cast<float>(static_cast<int>(rng() % 50)) / 7.0f;  // many ties
    std::vector<uint8_t> ex;
    if (trial % 2) {
      ex.resize(static_cast<size_t>(n));
      for (auto& e : ex) e = rng() % 4 == 0;
    }
    if (trial % 3 == 0) s[rng() % s.size()] = std::numeric_limits<float>::quiet_NaN();
    const std::vector<ScoredItem> got = top_k(s.data(), n, k, ex.empty() ? nullptr : ex.data());
    const std::vector<ScoredItem> want = sorted_top_k(s, k, ex);
    ASSERT_EQ(got.size(), want.size()) << "n=" << n << " k=" << k;
    for (size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(got[i].item, want[i].item) << "rank " << i;
      EXPECT_EQ(got[i].score, want[i].score);
    }
  }
  EXPECT_TRUE(top_k(nullptr, 0, 5, nullptr).empty());
  const float one = 1.0f;
  EXPECT_TRUE(top_k(&one, 1, 0, nullptr).empty());
}

TEST(ItemTable, PrecisionsScoreCloseToF32AndRowsRoundTrip) {
  std::mt19937 rng(1);
  const int64_t n = 300, d = 37;  // d not a multiple of 8: the scalar tails run too
  std::vector<float> rows = random_vec(static_cast<size_t>(n * d), rng), user = random_vec(static_cast<size_t>(d), rng);
  auto f32 = ItemTable::build(rows.data(), n, d, TablePrecision::kF32);
  ASSERT_TRUE(f32.ok());
  std::vector<float> ref(static_cast<size_t>(n));
  f32->score(user.data(), nullptr, ref.data(), 0, n);
  for (int64_t i = 0; i < n; ++i) {
    double s = 0;
    for (int64_t j = 0; j < d; ++j) s += static_cast<double>(rows[static_cast<size_t>(i * d + j)]) * user[static_cast<size_t>(j)];
    EXPECT_NEAR(ref[static_cast<size_t>(i)], s, 1e-4);
  }
  for (auto [p, tol] : {std::pair{TablePrecision::kF16, 2e-3}, std::pair{TablePrecision::kInt8, 2e-2}}) {
    auto t = ItemTable::build(rows.data(), n, d, p);
    ASSERT_TRUE(t.ok());
    EXPECT_LT(t->bytes(), f32->bytes());
    std::vector<float> got(static_cast<size_t>(n)), r(static_cast<size_t>(d));
    t->score(user.data(), nullptr, got.data(), 0, n);
    for (int64_t i = 0; i < n; ++i) {
      t->row(i, r.data());
      double s = 0, scale = 0;
      for (int64_t j = 0; j < d; ++j) {
        s += static_cast<double>(r[static_cast<size_t>(j)]) * user[static_cast<size_t>(j)];
        scale += std::fabs(rows[static_cast<size_t>(i * d + j)] * user[static_cast<size_t>(j)]);
        EXPECT_NEAR(r[static_cast<size_t>(j)], rows[static_cast<size_t>(i * d + j)], p == TablePrecision::kF16 ? 2e-3 : 0.02);
      }
      // f16 scores the dequantized rows exactly; int8 also quantizes the user vector (13 bits).
      EXPECT_NEAR(got[static_cast<size_t>(i)], s, (p == TablePrecision::kF16 ? 1e-4 : 1e-3) * (1 + scale)) << precision_name(p);
      EXPECT_NEAR(got[static_cast<size_t>(i)], ref[static_cast<size_t>(i)], tol * (1 + scale)) << precision_name(p);
    }
  }
}

// Whole panels go through the SIMD kernels and partial ones item by item: every range, every list
// of items and every precision must give the same floats, bit for bit.
TEST(ItemTable, PanelKernelsEqualItemByItemScoringForEveryRange) {
  std::mt19937 rng(7);
  for (int64_t d : {1, 7, 64}) {
    const int64_t n = 3 * ItemTable::kPanel + 5;
    std::vector<float> rows = random_vec(static_cast<size_t>(n * d), rng), bias = random_vec(static_cast<size_t>(n), rng);
    for (int64_t i = 0; i < n; i += 3) {  // tiny rows: subnormal halves in the f16 table
      for (int64_t j = 0; j < d; ++j) rows[static_cast<size_t>(i * d + j)] *= 1e-4f;
    }
    std::vector<float> user = random_vec(static_cast<size_t>(d), rng), huge(user);
    for (float& v : huge) v *= 1e6f;  // f16: too large to pre-scale by 2^112, scored item by item
    std::vector<int32_t> all(static_cast<size_t>(n));
    std::iota(all.begin(), all.end(), 0);
    for (TablePrecision p : {TablePrecision::kF32, TablePrecision::kF16, TablePrecision::kInt8}) {
      auto t = ItemTable::build(rows.data(), n, d, p);
      ASSERT_TRUE(t.ok());
      for (const std::vector<float>* u : {&user, &huge}) {
        std::vector<float> whole(static_cast<size_t>(n)), listed(static_cast<size_t>(n));
        t->score(u->data(), bias.data(), whole.data(), 0, n);
        t->score_items(u->data(), bias.data(), all.data(), n, listed.data());
        for (int64_t i = 0; i < n; ++i) {
          ASSERT_EQ(whole[static_cast<size_t>(i)], listed[static_cast<size_t>(i)]) << precision_name(p) << " d=" << d << " item " << i;
          double s = bias[static_cast<size_t>(i)], scale = 1;
          std::vector<float> r(static_cast<size_t>(d));
          t->row(i, r.data());
          for (int64_t j = 0; j < d; ++j) {
            s += static_cast<double>(r[static_cast<size_t>(j)]) * (*u)[static_cast<size_t>(j)];
            scale += std::fabs(r[static_cast<size_t>(j)] * (*u)[static_cast<size_t>(j)]);
          }
          EXPECT_NEAR(whole[static_cast<size_t>(i)], s, (p == TablePrecision::kInt8 ? 1e-3 : 1e-5) * scale) << precision_name(p);
        }
        for (auto [b, e] : {std::pair<int64_t, int64_t>{0, 16}, {1, 17}, {5, 53}, {15, 33}, {16, 48}, {17, 20}, {52, 53}}) {
          std::vector<float> part(static_cast<size_t>(e - b));
          t->score(u->data(), bias.data(), part.data(), b, e);
          for (int64_t i = b; i < e; ++i) ASSERT_EQ(part[static_cast<size_t>(i - b)], whole[static_cast<size_t>(i)]) << b << ".." << e;
        }
      }
      {  // stored row by row (fold-in tables): the same rows and the same scores
        ItemTable rows_t = t.value();
        rows_t.store_by_rows();
        std::vector<float> a(static_cast<size_t>(n)), b(static_cast<size_t>(n)), ra(static_cast<size_t>(d)), rb(static_cast<size_t>(d));
        t->score(user.data(), bias.data(), a.data(), 0, n);
        rows_t.score(user.data(), bias.data(), b.data(), 0, n);
        EXPECT_EQ(a, b) << precision_name(p);
        for (int64_t i = 0; i < n; ++i) {
          t->row(i, ra.data());
          rows_t.row(i, rb.data());
          ASSERT_EQ(ra, rb) << precision_name(p) << " item " << i;
        }
        auto more = rows_t.with_rows(rows.data(), n);
        ASSERT_TRUE(more.ok());
        more->score(user.data(), bias.data(), b.data(), 0, n);
        EXPECT_EQ(a, b) << precision_name(p);
        if (p == TablePrecision::kInt8) EXPECT_EQ(rows_t.int8_values(), t->int8_values());
      }
      if (p == TablePrecision::kInt8) {  // the stored parts, row by row, make the same table
        auto again = ItemTable::from_int8(n, d, t->int8_values(), t->int8_scales());
        ASSERT_TRUE(again.ok());
        std::vector<float> a(static_cast<size_t>(n)), b(static_cast<size_t>(n));
        t->score(user.data(), nullptr, a.data(), 0, n);
        again->score(user.data(), nullptr, b.data(), 0, n);
        EXPECT_EQ(a, b);
        EXPECT_EQ(t->int8_values().size(), static_cast<size_t>(n * d));
      }
    }
  }
}

TEST(ItemTable, HalfConversionEdgeCases) {
  const float vals[] = {0.0f, -0.0f, 1.0f, -2.5f, 65504.0f, 1e6f, -1e6f, 6e-8f, 1e-5f, 0.1f};
  auto t = ItemTable::build(vals, 10, 1, TablePrecision::kF16);
  ASSERT_TRUE(t.ok());
  float r;
  const float want[] = {0.0f, -0.0f, 1.0f, -2.5f, 65504.0f, 65504.0f, -65504.0f, 5.9604645e-08f, 1.001358e-05f, 0.099975586f};
  for (int i = 0; i < 10; ++i) {
    t->row(i, &r);
    EXPECT_FLOAT_EQ(r, want[i]) << "value " << vals[i];
  }
}

TEST(ItemTable, RefusesBadInput) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float rows[] = {1, 2, nan, 4};
  auto t = ItemTable::build(rows, 2, 2, TablePrecision::kF32);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("item 1"), std::string::npos) << t.status().message();
  EXPECT_FALSE(ItemTable::build(rows, 0, 2, TablePrecision::kF32).ok());
  std::vector<float> wide(4096, 0.5f);
  auto too_wide = ItemTable::build(wide.data(), 1, 4096, TablePrecision::kInt8);
  ASSERT_FALSE(too_wide.ok());
  EXPECT_NE(too_wide.status().message().find("2048"), std::string::npos);
  EXPECT_FALSE(parse_precision("f64").ok());
}

TEST(PortableMath, CloseToStdAndTotal) {
  for (float x = -30.0f; x <= 30.0f; x += 0.0137f) {
    EXPECT_NEAR(portable_tanh(x), std::tanh(x), 3e-7f * std::max(1.0f, std::fabs(std::tanh(x)))) << x;
    EXPECT_NEAR(portable_sigmoid(x), 1.0f / (1.0f + std::exp(-x)), 3e-7f) << x;
    const float e = std::exp(x / 3.0f);
    EXPECT_NEAR(portable_exp(x / 3.0f), e, 3e-7f * e) << x;
  }
  EXPECT_EQ(portable_exp(100.0f), std::numeric_limits<float>::infinity());
  EXPECT_EQ(portable_exp(-200.0f), 0.0f);
  EXPECT_TRUE(std::isnan(portable_tanh(std::numeric_limits<float>::quiet_NaN())));
  EXPECT_EQ(portable_tanh(1e-8f), 1e-8f);
}

TEST(Mmr, ZeroDiversityKeepsOrderAndHighDiversitySpreads) {
  // Items 0..3 nearly identical, item 4 orthogonal.
  const float rows[] = {1, 0, 1, 0.01f, 1, 0.02f, 1, 0.03f, 0, 1};
  auto t = ItemTable::build(rows, 5, 2, TablePrecision::kF32);
  ASSERT_TRUE(t.ok());
  const std::vector<ScoredItem> cand = {{0, 5.0f}, {1, 4.9f}, {2, 4.8f}, {3, 4.7f}, {4, 1.0f}};
  auto same = mmr(cand, t.value(), 3, 0.0);
  ASSERT_EQ(same.size(), 3u);
  EXPECT_EQ(same[1].item, 1);
  auto diverse = mmr(cand, t.value(), 2, 0.7);
  ASSERT_EQ(diverse.size(), 2u);
  EXPECT_EQ(diverse[0].item, 0);
  EXPECT_EQ(diverse[1].item, 4);
  EXPECT_TRUE(mmr({}, t.value(), 3, 0.5).empty());
}

// Tiny synthetic interaction data: 3 clusters of items, users draw from one cluster.
RecTrainData synthetic(int users, int items, uint32_t seed) {
  std::mt19937 rng(seed);
  RecTrainData d;
  for (int i = 0; i < items; ++i) d.item_ids.push_back("item" + std::to_string(i));
  for (int u = 0; u < users; ++u) {
    const int c = u % 3;
    std::vector<int32_t> h;
    for (int k = 0; k < 8; ++k) h.push_back(static_cast<int32_t>(c + 3 * (rng() % (items / 3))));
    d.histories.push_back(h);
  }
  return d;
}

std::unique_ptr<Context> ctx1() { return std::move(Context::create(1, 1)).value(); }

Result<RecTrainResult> train_small(const std::string& kind, int epochs = 15) {
  RecTrainOptions o;
  o.kind = kind;
  o.dim = 8;
  o.embedding_dim = 6;
  o.epochs = epochs;
  o.batch_size = 16;
  o.max_length = 5;
  o.learning_rate = 0.01;
  o.fold_in_epochs = 20;
  auto c = ctx1();
  return train_recommender(synthetic(60, 30, 3), o, c.get());
}

std::vector<HistoryEvent> hist(std::initializer_list<int32_t> items) {
  std::vector<HistoryEvent> h;
  for (int32_t i : items) h.push_back({i, 1.0f});
  return h;
}

// Runs the saved inference graph on one input tensor and returns its scores.
std::vector<float> run_graph(const LoadedModel& m, const Tensor& input) {
  auto c = ctx1();
  auto ex = Executor::create(m.graph, c.get());
  EXPECT_TRUE(ex.ok()) << ex.status().message();
  std::vector<Tensor> out;
  Status s = ex.value()->run({input}, &out);
  EXPECT_TRUE(s.ok()) << s.message();
  return std::vector<float>(out[0].data(), out[0].data() + out[0].num_elements());
}

TEST(Recommender, MultDaeFoldInMatchesTheSavedGraph) {
  auto r = train_small("mult-dae");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_LT(r->epoch_losses.back(), r->epoch_losses.front());
  auto m = RecModel::create(r->model, TablePrecision::kF32);
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_EQ(m.value()->kind(), "mult-dae");
  const auto h = hist({0, 3, 6, 3});
  std::vector<float> user, scores(30);
  ASSERT_TRUE(m.value()->fold_in(h, &user).ok());
  m.value()->score(user.data(), scores.data(), nullptr);
  Tensor x = Tensor::zeros(Shape{1, 30}).value();
  for (int i : {0, 3, 6}) x.mutable_data()[i] = 1.0f / std::sqrt(3.0f);
  const std::vector<float> want = run_graph(r->model, x);
  for (int i = 0; i < 30; ++i) EXPECT_NEAR(scores[static_cast<size_t>(i)], want[static_cast<size_t>(i)], 1e-4) << i;
  // It learned the clusters: the best unseen items for a cluster-0 history are cluster-0 items.
  std::vector<uint8_t> ex(30, 0);
  for (int i : {0, 3, 6}) ex[static_cast<size_t>(i)] = 1;
  for (const ScoredItem& s : top_k(scores.data(), 30, 3, ex.data())) EXPECT_EQ(s.item % 3, 0) << s.item;
}

// EASE / EDLAE item-item weights by the textbook formula (Gauss-Jordan inverse in double):
// B = I - P diagMat(1 / diag(P)), P = (X^T X + diag(lambda + p / (1 - p) G_ii))^-1.
std::vector<double> ease_reference(const RecTrainData& d, double lambda, double p) {
  const size_t n = d.item_ids.size();
  std::vector<double> a(n * n, 0.0), inv(n * n, 0.0);
  for (const auto& h : d.histories) {
    std::vector<int32_t> r(h);
    std::sort(r.begin(), r.end());
    r.erase(std::unique(r.begin(), r.end()), r.end());
    for (int32_t i : r)
      for (int32_t j : r) a[static_cast<size_t>(i) * n + static_cast<size_t>(j)] += 1;
  }
  for (size_t i = 0; i < n; ++i) {
    a[i * n + i] += lambda + p / (1 - p) * a[i * n + i];
    inv[i * n + i] = 1;
  }
  for (size_t c = 0; c < n; ++c) {  // symmetric positive definite: no pivoting needed
    const double piv = a[c * n + c];
    for (size_t j = 0; j < n; ++j) { a[c * n + j] /= piv; inv[c * n + j] /= piv; }
    for (size_t r = 0; r < n; ++r) {
      if (r == c) continue;
      const double f = a[r * n + c];
      for (size_t j = 0; j < n; ++j) { a[r * n + j] -= f * a[c * n + j]; inv[r * n + j] -= f * inv[c * n + j]; }
    }
  }
  std::vector<double> b(n * n);
  for (size_t j = 0; j < n; ++j)
    for (size_t i = 0; i < n; ++i) b[j * n + i] = i == j ? 0.0 : -inv[j * n + i] / inv[i * n + i];
  return b;
}

TEST(Recommender, LinearKindIsEaseAndEdlaeExactlyWhenWideEnough) {
  auto c = ctx1();
  const RecTrainData d = synthetic(60, 30, 3);
  const auto h = hist({0, 3, 6, 3});
  for (double p : {0.0, 0.25}) {
    // dim >= users: the dual Cholesky path; dim < users with dim + oversampling >= items: the
    // randomized path spans every item, so it is exact too.
    for (int64_t dim : {64, 30}) {
      SCOPED_TRACE("p " + std::to_string(p) + " dim " + std::to_string(dim));
      RecTrainOptions o;
      o.kind = "linear";
      o.l2 = 5;
      o.dropout = p;
      o.dim = dim;
      auto r = train_recommender(d, o, c.get());
      ASSERT_TRUE(r.ok()) << r.status().message();
      auto m = RecModel::create(r->model, TablePrecision::kF32);
      ASSERT_TRUE(m.ok()) << m.status().message();
      EXPECT_EQ(m.value()->kind(), "linear");
      std::vector<float> user, scores(30);
      ASSERT_TRUE(m.value()->fold_in(h, &user).ok());
      m.value()->score(user.data(), scores.data(), nullptr);
      // The scores less the popularity tie-break are the EASE scores times one positive factor
      // (the stored fold scales are normalized), fitted here by least squares.
      const std::vector<double> b = ease_reference(d, 5, p);
      std::vector<double> got(30), want(30);
      std::vector<float> row(static_cast<size_t>(m.value()->dim())), fold(1);
      double sr = 0, rr = 0, top = 0;
      for (int i = 0; i < 30; ++i) {
        float bias = 0;
        m.value()->item_params(i, row.data(), &bias, fold.data());
        EXPECT_GE(bias, 0.0f);
        EXPECT_LE(bias, 1e-4f);
        got[static_cast<size_t>(i)] = scores[static_cast<size_t>(i)] - bias;
        want[static_cast<size_t>(i)] = b[0 * 30 + i] + b[3 * 30 + i] + b[6 * 30 + i];  // repeats count once
        if (i == 0 || i == 3 || i == 6) continue;  // the history's own items are never ranked
        sr += got[static_cast<size_t>(i)] * want[static_cast<size_t>(i)];
        rr += want[static_cast<size_t>(i)] * want[static_cast<size_t>(i)];
        top = std::max(top, std::fabs(got[static_cast<size_t>(i)]));
      }
      const double factor = sr / rr;
      EXPECT_GT(factor, 1.0);  // 1 / (the largest diag(P)) >= lambda
      for (int i = 0; i < 30; ++i) {
        if (i == 0 || i == 3 || i == 6) continue;
        EXPECT_NEAR(got[static_cast<size_t>(i)], factor * want[static_cast<size_t>(i)], 1e-4 * top) << i;
      }
      // The saved graph (history weights in, no normalization) gives the same scores.
      Tensor x = Tensor::zeros(Shape{1, 30}).value();
      for (int i : {0, 3, 6}) x.mutable_data()[i] = 1.0f;
      const std::vector<float> g = run_graph(r->model, x);
      for (int i = 0; i < 30; ++i) EXPECT_NEAR(scores[static_cast<size_t>(i)], g[static_cast<size_t>(i)], 1e-4 * top) << i;
    }
  }
}

TEST(Recommender, LinearKindTruncatedStillRanksTheClusterAndColdUsersByPopularity) {
  auto c = ctx1();
  RecTrainData d = synthetic(90, 30, 4);
  d.histories.push_back({29, 29, 29});  // item 29 (cluster 2) becomes the most popular by far
  for (int u = 0; u < 40; ++u) d.histories.push_back({29});
  RecTrainOptions o;
  o.kind = "linear";
  o.l2 = 2;
  o.dim = 3;  // low rank: the randomized path
  auto r = train_recommender(d, o, c.get());
  ASSERT_TRUE(r.ok()) << r.status().message();
  auto m = RecModel::create(r->model, TablePrecision::kF32).value();
  EXPECT_EQ(m->dim(), 3);
  std::vector<float> user, scores(30);
  ASSERT_TRUE(m->fold_in(hist({1, 4, 7}), &user).ok());
  m->score(user.data(), scores.data(), nullptr);
  std::vector<uint8_t> ex(30, 0);
  for (int i : {1, 4, 7}) ex[static_cast<size_t>(i)] = 1;
  for (const ScoredItem& s : top_k(scores.data(), 30, 5, ex.data())) EXPECT_EQ(s.item % 3, 1) << s.item;
  ASSERT_TRUE(m->fold_in({}, &user).ok());
  m->score(user.data(), scores.data(), nullptr);
  EXPECT_EQ(top_k(scores.data(), 30, 1, nullptr)[0].item, 29);
  // Options out of range are refused with the rule.
  for (auto bad : {std::make_pair(0.0, 0.0), std::make_pair(-1.0, 0.0), std::make_pair(10.0, 1.0),
                   std::make_pair(std::numeric_limits<double>::quiet_NaN(), 0.0)}) {
    o.l2 = bad.first;
    o.dropout = bad.second;
    auto e = train_recommender(d, o, c.get());
    EXPECT_EQ(e.status().code(), StatusCode::kInvalidArgument);
  }
  o.l2 = 1;
  o.dropout = 0;
  o.dim = kMaxLinearDim + 1;
  EXPECT_EQ(train_recommender(d, o, c.get()).status().code(), StatusCode::kInvalidArgument);
  // The public fit checks item indices itself.
  RecTrainData stray = synthetic(10, 9, 2);
  stray.histories[3].push_back(9);
  o.dim = 4;
  EXPECT_EQ(fit_linear_recommender(stray, o).status().code(), StatusCode::kInvalidArgument);
  // A catalogue too large for the low-rank blocks at this width is refused before allocating.
  RecTrainData big;
  for (int i = 0; i < 20000; ++i) big.item_ids.push_back("i" + std::to_string(i));
  for (int u = 0; u < 2100; ++u) big.histories.push_back({u, u + 1});
  o.dim = kMaxLinearDim;
  auto e = train_recommender(big, o, c.get());
  EXPECT_EQ(e.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(e.status().message().find("lower dim"), std::string::npos) << e.status().message();
}

TEST(Recommender, BlendScoresAreTheWeightedSumAndSurviveACompactFile) {
  auto lin_r = train_small("linear");
  auto dae_r = train_small("mult-dae", 5);
  ASSERT_TRUE(lin_r.ok() && dae_r.ok());
  auto lin = RecModel::create(lin_r->model, TablePrecision::kF32).value();
  auto dae = RecModel::create(dae_r->model, TablePrecision::kF32).value();
  auto b = RecModel::blend(*lin, *dae, 0.3, 0.7);
  ASSERT_TRUE(b.ok()) << b.status().message();
  EXPECT_EQ(b.value()->kind(), "blend");
  EXPECT_EQ(b.value()->dim(), lin->dim() + dae->dim());
  auto scores = [](const RecModel& m, const std::vector<HistoryEvent>& h) {
    std::vector<float> user, s(static_cast<size_t>(m.num_items()));
    EXPECT_TRUE(m.fold_in(h, &user).ok());
    m.score(user.data(), s.data(), nullptr);
    return s;
  };
  for (const auto& h : {hist({0, 3, 6, 3}), hist({}), std::vector<HistoryEvent>{{2, 3.0f}, {5, 1.0f}}}) {
    const std::vector<float> sl = scores(*lin, h), sd = scores(*dae, h), sb = scores(*b.value(), h);
    for (size_t i = 0; i < sb.size(); ++i) EXPECT_NEAR(sb[i], 0.3f * sl[i] + 0.7f * sd[i], 1e-4f * (1 + std::fabs(sd[i]))) << i;
  }
  // Its compact file loads back as the same model (F32: bit for bit; F16: close).
  RecModel::CompactOptions o;
  o.half = false;
  auto bytes = b.value()->save_compact(o);
  ASSERT_TRUE(bytes.ok()) << bytes.status().message();
  auto back = RecModel::load(std::make_shared<std::vector<uint8_t>>(bytes.value()), TablePrecision::kF32);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back.value()->kind(), "blend");
  EXPECT_EQ(scores(*back.value(), hist({1, 4})), scores(*b.value(), hist({1, 4})));
  EXPECT_EQ(back.value()->fingerprint(), b.value()->fingerprint());
  // The weights are part of the model state: another share is another fingerprint, and no delta
  // turns one blend into the other.
  auto other_share = RecModel::blend(*lin, *dae, 0.6, 0.4).value();
  EXPECT_NE(other_share->fingerprint(), b.value()->fingerprint());
  EXPECT_EQ(diff_items(*b.value(), *other_share, 0).status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(diff_items(*b.value(), *back.value(), 0).ok());
  // A linear model's one-value fold rows stay float when PQ fold rows are asked for.
  RecModel::CompactOptions pq;
  pq.fold = TablePrecision::kPQ;
  pq.fold_m = 16;
  auto lin_pq = lin->save_compact(pq);
  ASSERT_TRUE(lin_pq.ok()) << lin_pq.status().message();
  auto lin_back = RecModel::load(std::make_shared<std::vector<uint8_t>>(lin_pq.value()), TablePrecision::kF32);
  ASSERT_TRUE(lin_back.ok()) << lin_back.status().message();
  EXPECT_EQ(lin_back.value()->fold_dim(), 1);
  // Refusals: kinds, weights, items.
  EXPECT_EQ(RecModel::blend(*lin, *dae, 1e31, 1).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(RecModel::blend(*dae, *lin, 0.5, 0.5).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(RecModel::blend(*lin, *dae, -0.1, 0.5).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(RecModel::blend(*lin, *dae, 0, 0).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(RecModel::blend(*lin, *dae, std::numeric_limits<double>::infinity(), 1).status().code(), StatusCode::kInvalidArgument);
  RecTrainOptions o2;
  o2.kind = "linear";
  o2.dim = 4;
  auto c = ctx1();
  auto other = train_recommender(synthetic(60, 27, 3), o2, c.get());
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(RecModel::blend(*RecModel::create(other->model, TablePrecision::kF32).value(), *dae, 1, 1).status().code(),
            StatusCode::kInvalidArgument);
  // A compact file whose blend settings do not fit its tables is refused, naming why.
  std::string text(bytes->begin(), bytes->end());
  const std::string key = "\\\"linear_dim\\\":" + std::to_string(lin->dim());
  const size_t at = text.find(key);
  ASSERT_NE(at, std::string::npos) << text.substr(0, 400);
  const size_t digits = std::to_string(lin->dim()).size();
  for (const std::string& bad : {std::string(digits, '0'), std::string(digits, '9')}) {  // 0: out of range; 9s: widths disagree
    std::string t = text;
    t.replace(at + key.size() - digits, digits, bad);
    auto e = RecModel::load(std::make_shared<std::vector<uint8_t>>(t.begin(), t.end()), TablePrecision::kF32);
    EXPECT_EQ(e.status().code(), StatusCode::kDataLoss) << bad;
  }
}

TEST(Recommender, Gru4RecFoldInMatchesTheEngineGruOp) {
  auto r = train_small("gru4rec");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_LT(r->epoch_losses.back(), r->epoch_losses.front());
  auto m = RecModel::create(r->model, TablePrecision::kF32);
  ASSERT_TRUE(m.ok()) << m.status().message();
  const auto h = hist({1, 4, 7, 4, 10});
  std::vector<float> user, scores(30);
  ASSERT_TRUE(m.value()->fold_in(h, &user).ok());
  m.value()->score(user.data(), scores.data(), nullptr);
  Tensor ids = Tensor::zeros(Shape{1, 5}).value();
  int t = 0;
  for (const HistoryEvent& e : h) ids.mutable_data()[t++] = static_cast<float>(e.item);
  const std::vector<float> want = run_graph(r->model, ids);
  for (int i = 0; i < 30; ++i) EXPECT_NEAR(scores[static_cast<size_t>(i)], want[static_cast<size_t>(i)], 1e-4) << i;
}

TEST(Recommender, MfFoldInRanksTheHistorysClusterFirst) {
  auto r = train_small("mf-bpr", 40);
  ASSERT_TRUE(r.ok()) << r.status().message();
  auto m = RecModel::create(r->model, TablePrecision::kF32);
  ASSERT_TRUE(m.ok()) << m.status().message();
  std::vector<float> user, again, scores(30);
  const auto h = hist({2, 5, 8, 11});
  ASSERT_TRUE(m.value()->fold_in(h, &user).ok());
  ASSERT_TRUE(m.value()->fold_in(h, &again).ok());
  EXPECT_EQ(user, again);  // deterministic
  m.value()->score(user.data(), scores.data(), nullptr);
  std::vector<uint8_t> ex(30, 0);
  for (int i : {2, 5, 8, 11}) ex[static_cast<size_t>(i)] = 1;
  int hits = 0;
  for (const ScoredItem& s : top_k(scores.data(), 30, 4, ex.data())) hits += s.item % 3 == 2;
  EXPECT_GE(hits, 3);
  // Empty history: the training users' mean embedding (saved as user.mean), not zeros.
  ASSERT_TRUE(m.value()->fold_in({}, &user).ok());
  auto mean = r->model.graph->find("user.mean");
  ASSERT_TRUE(mean.ok());
  const Tensor& mt = r->model.graph->value(mean.value()).constant;
  ASSERT_EQ(user.size(), static_cast<size_t>(mt.num_elements()));
  float norm = 0;
  for (size_t j = 0; j < user.size(); ++j) {
    EXPECT_EQ(user[j], mt.data()[j]);
    norm += std::fabs(user[j]);
  }
  EXPECT_GT(norm, 0.0f);
  // Absurd weights never give a non-finite user vector: either finite values or an error.
  Status s = m.value()->fold_in({{2, 3e38f}, {5, 3e38f}}, &user);
  if (s.ok()) {
    for (float v : user) EXPECT_TRUE(std::isfinite(v));
  } else {
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.message();
  }
}

TEST(Recommender, ValidationKeepsTheBestEpoch) {
  RecTrainOptions o;
  o.dim = 8;
  o.epochs = 6;
  o.eval_every = 2;
  o.batch_size = 16;
  o.learning_rate = 0.01;
  auto c = ctx1();
  std::vector<double> seen;
  auto r = train_recommender(synthetic(40, 30, 5), o, c.get(),
                             [&](const LoadedModel&) -> Result<double> {
                               const double v[] = {0.2, 0.5, 0.3};
                               seen.push_back(v[seen.size()]);
                               return seen.back();
                             });
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(seen.size(), 3u);
  EXPECT_EQ(r->best_epoch, 4);
  EXPECT_DOUBLE_EQ(r->best_validation, 0.5);
}

// mean_ndcg ranks each held-out user through recommend() after fold-in: a user whose target is
// the model's first recommendation scores 1, one whose target is absent from the top k scores 0.
TEST(Recommender, MeanNdcgRanksHeldOutUsersLikeTheDevice) {
  Result<RecTrainResult> r = train_small("mult-dae");
  ASSERT_TRUE(r.ok()) << r.status().message();
  auto c = ctx1();
  auto m = RecModel::create(r->model, TablePrecision::kF32).value();
  const std::vector<int32_t> history = {0, 3, 6};
  std::vector<float> user;
  ASSERT_TRUE(m->fold_in(hist({0, 3, 6}), &user).ok());
  RecommendRequest q;
  q.k = 30;
  q.history = hist({0, 3, 6});
  auto ranked = recommend(*m, nullptr, user.data(), q, c.get()).value();
  ASSERT_GE(ranked.size(), 3u);
  RecHeldOut held;
  held.histories = {history, history, history, {}};
  held.targets = {{ranked[0].item}, {ranked[1].item}, {ranked.back().item}, {}};  // the last user has no targets
  const double got = mean_ndcg(r->model, held, 2, c.get()).value();
  EXPECT_NEAR(got, (1.0 + 1.0 / std::log2(3.0) + 0.0) / 3.0, 1e-9);
  EXPECT_NEAR(ndcg_validator(held, 2, c.get())(r->model).value(), got, 1e-12);
  held.targets.pop_back();
  EXPECT_EQ(mean_ndcg(r->model, held, 2, c.get()).status().code(), StatusCode::kInvalidArgument);
}

// A time budget stops training after the epoch that crosses it, keeping validated weights.
TEST(Recommender, TimeBudgetStopsTraining) {
  RecTrainOptions o;
  o.dim = 8;
  o.epochs = 1000000000;
  o.eval_every = 1000000000;
  o.batch_size = 16;
  o.learning_rate = 0.01;
  o.max_seconds = 0.2;
  auto c = ctx1();
  int validations = 0;
  auto r = train_recommender(synthetic(40, 30, 5), o, c.get(), [&](const LoadedModel&) -> Result<double> {
    ++validations;
    return 0.5;
  });
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_LT(r->epoch_losses.size(), 1000000000u);
  EXPECT_EQ(validations, 1);  // the last epoch is validated even off the eval_every grid
  EXPECT_EQ(r->best_epoch, static_cast<int64_t>(r->epoch_losses.size()));
}

TEST(Recommender, ParallelScoringEqualsSerial) {
  std::mt19937 rng(4);
  const int64_t n = 100000, d = 24;  // 2.4M values: above the size that ranks on one thread
  std::vector<float> rows = random_vec(static_cast<size_t>(n * d), rng), bias = random_vec(static_cast<size_t>(n), rng);
  auto m = RecModel::from_table({}, rows.data(), n, d, bias.data(), TablePrecision::kInt8);
  ASSERT_TRUE(m.ok());
  auto c2 = std::move(Context::create(2, 2)).value();
  std::vector<float> user = random_vec(static_cast<size_t>(d), rng), a(static_cast<size_t>(n)), b(static_cast<size_t>(n));
  m.value()->score(user.data(), a.data(), nullptr);
  m.value()->score(user.data(), b.data(), c2.get());
  EXPECT_EQ(a, b);
  // Ranking tile by tile on either thread count equals top_k over all scores, ties included (rows
  // of -1/0/1 and a user vector with three non-zero values: 27 distinct scores over 100000 items).
  std::vector<float> tied(static_cast<size_t>(n * d)), zero(static_cast<size_t>(n), 0.0f), all(static_cast<size_t>(n));
  for (float& v : tied) v = static_cast<float>(static_cast<int>(rng() % 3) - 1);
  std::vector<uint8_t> excluded(static_cast<size_t>(n), 0);
  for (int64_t i = 0; i < n; i += 7) excluded[static_cast<size_t>(i)] = 1;
  std::vector<float> u3v(static_cast<size_t>(d), 0.0f);
  u3v[0] = 0.5f, u3v[1] = -0.25f, u3v[2] = 1.0f;
  const float* u3 = u3v.data();
  for (TablePrecision p : {TablePrecision::kF32, TablePrecision::kF16, TablePrecision::kInt8}) {
  SCOPED_TRACE(precision_name(p));
  auto t = RecModel::from_table({}, tied.data(), n, d, zero.data(), p);
  ASSERT_TRUE(t.ok());
  t.value()->score(u3, all.data(), nullptr);
  for (int64_t k : {int64_t{1}, int64_t{100}, int64_t{3000}, n + 5}) {
    for (const uint8_t* ex : {static_cast<const uint8_t*>(nullptr), static_cast<const uint8_t*>(excluded.data())}) {
      const std::vector<ScoredItem> want = top_k(all.data(), n, k, ex);
      for (Context* ctx : {static_cast<Context*>(nullptr), c2.get()}) {
        const std::vector<ScoredItem> got = t.value()->top_scored(u3, k, ex, ctx);
        ASSERT_EQ(got.size(), want.size()) << k;
        for (size_t r = 0; r < got.size(); ++r) {
          ASSERT_EQ(got[r].item, want[r].item) << "k " << k << " rank " << r << (ctx ? " (2 threads)" : "");
          ASSERT_EQ(got[r].score, want[r].score);
        }
      }
    }
  }
  }
  EXPECT_EQ(m.value()->item_id(17), "17");
  EXPECT_EQ(m.value()->find_item("17").value(), 17);
  EXPECT_FALSE(m.value()->find_item("017").ok());
  EXPECT_FALSE(m.value()->find_item("100000").ok());
  auto sim = m.value()->similar_items(5, 4, nullptr);
  ASSERT_EQ(sim.size(), 4u);
  for (const ScoredItem& s : sim) EXPECT_NE(s.item, 5);
}

TEST(Recommender, ClearErrorsForBadInput) {
  auto r = train_small("mult-dae", 1);
  ASSERT_TRUE(r.ok());
  auto m = RecModel::create(r->model, TablePrecision::kF16);
  ASSERT_TRUE(m.ok());
  std::vector<float> user;
  Status s = m.value()->fold_in(hist({1, 30}), &user);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("event 1"), std::string::npos) << s.message();
  s = m.value()->fold_in({{2, std::numeric_limits<float>::quiet_NaN()}}, &user);
  EXPECT_NE(s.message().find("weight"), std::string::npos) << s.message();
  EXPECT_EQ(m.value()->find_item("nope").status().code(), StatusCode::kNotFound);

  LoadedModel no_meta = r->model;
  no_meta.metadata.erase("recommender");
  EXPECT_EQ(RecModel::create(no_meta, TablePrecision::kF32).status().code(), StatusCode::kInvalidArgument);
  LoadedModel bad_kind = r->model;
  bad_kind.metadata["recommender"] = R"({"kind": "svd", "items": ["a"]})";
  EXPECT_EQ(RecModel::create(bad_kind, TablePrecision::kF32).status().code(), StatusCode::kUnimplemented);
  LoadedModel few_items = r->model;
  few_items.metadata["recommender"] = R"({"kind": "mult-dae", "items": ["a", "b"]})";
  auto e = RecModel::create(few_items, TablePrecision::kF32);
  EXPECT_EQ(e.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(e.status().message().find("enc.w"), std::string::npos) << e.status().message();
  LoadedModel dup = r->model;
  dup.metadata["recommender"] = R"({"kind": "mult-dae", "items": ["a", "a"]})";
  EXPECT_EQ(RecModel::create(dup, TablePrecision::kF32).status().code(), StatusCode::kDataLoss);

  RecTrainData d = synthetic(5, 6, 1);
  d.histories[2].push_back(6);
  RecTrainOptions o;
  auto c = ctx1();
  EXPECT_EQ(train_recommender(d, o, c.get()).status().code(), StatusCode::kInvalidArgument);
  o.kind = "nope";
  EXPECT_EQ(train_recommender(synthetic(5, 6, 1), o, c.get()).status().code(), StatusCode::kInvalidArgument);
}

TEST(Recommender, SavedModelFileRoundTrips) {
  auto r = train_small("mf-bpr", 3);
  ASSERT_TRUE(r.ok());
  auto bytes = save_model(*r->model.graph, r->model.metadata);
  ASSERT_TRUE(bytes.ok());
  auto loaded = load_model(std::make_shared<const std::vector<uint8_t>>(bytes.value()));
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  auto a = RecModel::create(r->model, TablePrecision::kF32);
  auto b = RecModel::create(loaded.value(), TablePrecision::kF32);
  ASSERT_TRUE(a.ok() && b.ok());
  std::vector<float> ua, ub;
  ASSERT_TRUE(a.value()->fold_in(hist({1, 2}), &ua).ok());
  ASSERT_TRUE(b.value()->fold_in(hist({1, 2}), &ub).ok());
  EXPECT_EQ(ua, ub);
  EXPECT_EQ(b.value()->item_id(3), "item3");
  // An empty history starts from the training users' mean vector, in the file as in memory (the
  // file kept user.mean: the saved graph's "user_mean" output reads it).
  std::vector<float> ea, eb;
  ASSERT_TRUE(a.value()->fold_in({}, &ea).ok());
  ASSERT_TRUE(b.value()->fold_in({}, &eb).ok());
  EXPECT_EQ(ea, eb);
  EXPECT_TRUE(std::any_of(eb.begin(), eb.end(), [](float v) { return v != 0.0f; }));
  EXPECT_TRUE(loaded->graph->find("user.mean").ok());

  // F16 refuses values it cannot hold instead of saturating them.
  {
    Graph g;
    Tensor big = Tensor::zeros(Shape{2}).value();
    big.mutable_data()[1] = 70000.0f;
    ASSERT_TRUE(g.add_constant("big", big).ok());
    std::vector<std::pair<std::string, Tensor>> named = {{"big", big}};
    auto w = write_safetensors(named, {}, /*half=*/true);
    ASSERT_FALSE(w.ok());
    EXPECT_NE(w.status().message().find("big"), std::string::npos) << w.status().message();
  }
  // Stored as F16: 2 bytes per weight, the same model within half precision.
  auto half = save_model(*r->model.graph, r->model.metadata, /*half=*/true);
  ASSERT_TRUE(half.ok());
  EXPECT_GE(bytes->size() - half->size(), 31u * 8u * 2u);  // 270 weights: 4 -> 2 bytes each, header aside
  auto lh = load_model(std::make_shared<const std::vector<uint8_t>>(half.value()));
  ASSERT_TRUE(lh.ok()) << lh.status().message();
  auto c = RecModel::create(lh.value(), TablePrecision::kF32);
  ASSERT_TRUE(c.ok());
  std::vector<float> sa(30), sc(30), uc;
  ASSERT_TRUE(c.value()->fold_in(hist({1, 2}), &uc).ok());
  a.value()->score(ua.data(), sa.data(), nullptr);
  c.value()->score(uc.data(), sc.data(), nullptr);
  for (int i = 0; i < 30; ++i) EXPECT_NEAR(sa[static_cast<size_t>(i)], sc[static_cast<size_t>(i)], 2e-2) << i;
}

// The ranking pipeline over a table whose scores are known: item i has row (i, 1) and the user
// vector is (1, 0), so the score of item i is i and the best items are the last ones.
TEST(RecommendPipeline, MasksStockCategoriesHistoryAndExplains) {
  const int64_t n = 20;
  std::vector<float> rows;
  for (int64_t i = 0; i < n; ++i) rows.insert(rows.end(), {static_cast<float>(i), 1.0f});
  std::vector<std::string> ids;
  for (int64_t i = 0; i < n; ++i) ids.push_back("p" + std::to_string(i));
  std::unique_ptr<RecModel> m = RecModel::from_table(ids, rows.data(), n, 2, nullptr, TablePrecision::kF32).value();
  const std::vector<float> user = {1.0f, 0.0f};
  auto items = [](const std::vector<Recommendation>& r) {
    std::vector<int32_t> out;
    for (const Recommendation& x : r) out.push_back(x.item);
    return out;
  };
  RecommendRequest r;
  r.k = 3;
  r.history = {{19, 1.0f}, {2, 1.0f}};
  Result<std::vector<Recommendation>> got = recommend(*m, nullptr, user.data(), r, nullptr);
  ASSERT_TRUE(got.ok()) << got.status().to_string();
  EXPECT_EQ(items(got.value()), (std::vector<int32_t>{18, 17, 16}));  // 19 was seen
  EXPECT_EQ(got.value()[0].because, 19);  // row (18, 1) is closest to (19, 1)
  EXPECT_GT(got.value()[0].similarity, 0.99f);
  r.exclude = {18};
  r.excluded.assign(static_cast<size_t>(n), 0);
  r.excluded[17] = 1;
  EXPECT_EQ(items(recommend(*m, nullptr, user.data(), r, nullptr).value()), (std::vector<int32_t>{16, 15, 14}));
  // A catalogue: stock and categories; ids the model lacks are ignored.
  RecCatalog c = RecCatalog::build(*m, {{"p16", {"shoes"}, false}, {"p3", {"shoes"}, true}, {"p5", {"shoes", "bags"}, true},
                                        {"p99", {"shoes"}, false}});
  r.exclude.clear();
  r.excluded.clear();
  EXPECT_EQ(items(recommend(*m, &c, user.data(), r, nullptr).value()), (std::vector<int32_t>{18, 17, 15}));
  r.categories = {"shoes", "hats"};
  EXPECT_EQ(items(recommend(*m, &c, user.data(), r, nullptr).value()), (std::vector<int32_t>{5, 3}));  // fewer than k remain
  r.categories.clear();
  r.exclude_seen = false;
  r.explain = false;
  r.k = 1000;  // beyond the catalogue: every item in stock
  got = recommend(*m, &c, user.data(), r, nullptr);
  EXPECT_EQ(got->size(), static_cast<size_t>(n - 1));
  EXPECT_EQ(got.value()[0].because, -1);
  // MMR with diversity 0 keeps the order; the similar items of p10 skip itself and the excluded.
  r.k = 3;
  r.diversity = 0.0;
  EXPECT_EQ(items(recommend(*m, nullptr, user.data(), r, nullptr).value()), (std::vector<int32_t>{19, 18, 17}));
  RecommendRequest q;
  q.k = 2;
  q.exclude = {11};
  got = similar_to(*m, nullptr, 10, q);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(items(got.value()), (std::vector<int32_t>{9, 12}));  // cosine: (9, 1) is nearer (10, 1) than (12, 1) is
  // Clear errors.
  RecommendRequest bad;
  bad.k = 0;
  EXPECT_EQ(recommend(*m, nullptr, user.data(), bad, nullptr).status().code(), StatusCode::kInvalidArgument);
  bad.k = 3;
  bad.diversity = 1.5;
  EXPECT_EQ(recommend(*m, nullptr, user.data(), bad, nullptr).status().code(), StatusCode::kInvalidArgument);
  bad.diversity = 0;
  bad.categories = {"shoes"};
  EXPECT_EQ(recommend(*m, nullptr, user.data(), bad, nullptr).status().code(), StatusCode::kFailedPrecondition);
  bad.categories.clear();
  bad.exclude = {int32_t(n)};
  EXPECT_EQ(recommend(*m, nullptr, user.data(), bad, nullptr).status().code(), StatusCode::kOutOfRange);
  bad.exclude.clear();
  bad.excluded.assign(3, 0);
  EXPECT_EQ(recommend(*m, nullptr, user.data(), bad, nullptr).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(recommend(*m, nullptr, nullptr, RecommendRequest{}, nullptr).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(similar_to(*m, nullptr, -1, q).status().code(), StatusCode::kOutOfRange);
  Json bad_catalog = parse_json(R"([{"id": "p1", "categories": "shoes"}])").value();
  EXPECT_EQ(RecCatalog::from_json(*m, bad_catalog.ref()).status().code(), StatusCode::kInvalidArgument);
  Json good_catalog = parse_json(R"([{"id": "p1", "categories": ["shoes"], "inStock": false}, {"id": "nope"}])").value();
  Result<RecCatalog> parsed = RecCatalog::from_json(*m, good_catalog.ref());
  ASSERT_TRUE(parsed.ok()) << parsed.status().to_string();
  EXPECT_TRUE(parsed->out_of_stock(1));
  EXPECT_FALSE(parsed->out_of_stock(2));
}

TEST(RecommendPipeline, CandidatesRankOnlyThePagesList) {
  const int64_t n = 50;
  std::mt19937 rng(7);
  const std::vector<float> rows = random_vec(static_cast<size_t>(n * 4), rng), bias = random_vec(static_cast<size_t>(n), rng);
  for (TablePrecision p : {TablePrecision::kF32, TablePrecision::kInt8}) {
    std::unique_ptr<RecModel> m = RecModel::from_table({}, rows.data(), n, 4, bias.data(), p).value();
    const std::vector<float> user = random_vec(4, rng);
    std::vector<float> all(static_cast<size_t>(n));
    m->score(user.data(), all.data(), nullptr);
    RecommendRequest r;
    r.history = {{3, 1.0f}};
    r.candidates = {40, 3, 7, 7, 12, 0, 33, 21};  // 3 is seen, 7 repeats
    r.k = 100;
    r.explain = false;
    Result<std::vector<Recommendation>> got = recommend(*m, nullptr, user.data(), r, nullptr);
    ASSERT_TRUE(got.ok()) << got.status().to_string();
    // The same order and scores as the full ranking restricted to the list.
    std::vector<uint8_t> outside(static_cast<size_t>(n), 1);
    for (int32_t i : {40, 7, 12, 0, 33, 21}) outside[static_cast<size_t>(i)] = 0;
    const std::vector<ScoredItem> want = sorted_top_k(all, 100, outside);
    ASSERT_EQ(got->size(), want.size());
    for (size_t j = 0; j < want.size(); ++j) {
      EXPECT_EQ(got.value()[j].item, want[j].item);
      EXPECT_EQ(got.value()[j].score, want[j].score);
    }
    r.k = 2;
    r.diversity = 0.5;
    got = recommend(*m, nullptr, user.data(), r, nullptr);
    ASSERT_TRUE(got.ok());
    EXPECT_EQ(got->size(), 2u);
    for (const Recommendation& x : got.value()) EXPECT_EQ(outside[static_cast<size_t>(x.item)], 0) << x.item;
    r.candidates = {int32_t(n)};
    EXPECT_EQ(recommend(*m, nullptr, user.data(), r, nullptr).status().code(), StatusCode::kOutOfRange);
    r.candidates = {3};  // only a seen item: nothing to recommend, not an error
    r.diversity = 0;
    EXPECT_TRUE(recommend(*m, nullptr, user.data(), r, nullptr)->empty());
  }
}

// Two trainings whose catalogues differ (items dropped, added, all retrained): the delta from the
// first to the second, through its file form, gives the first model the second's items exactly.
TEST(ItemDelta, CarriesOneCataloguesItemsToAnother) {
  for (const std::string kind : {"mult-dae", "mf-bpr", "gru4rec"}) {
    SCOPED_TRACE(kind);
    RecTrainOptions o;
    o.kind = kind;
    o.dim = 8;
    o.embedding_dim = 6;
    o.epochs = 2;
    o.batch_size = 16;
    o.max_length = 5;
    auto c = ctx1();
    RecTrainData a = synthetic(40, 30, 3), b = synthetic(40, 33, 4);
    for (int i = 0; i < 5; ++i) b.item_ids[static_cast<size_t>(i)] = "fresh" + std::to_string(i);  // item0-4 gone, 30-32 new
    auto ta = train_recommender(a, o, c.get());
    auto tb = train_recommender(b, o, c.get());
    ASSERT_TRUE(ta.ok() && tb.ok());
    for (TablePrecision p : {TablePrecision::kF32, TablePrecision::kInt8}) {
      std::unique_ptr<RecModel> from = RecModel::create(ta->model, p).value();
      std::unique_ptr<RecModel> to = RecModel::create(tb->model, TablePrecision::kF32).value();
      Result<ItemDelta> d = diff_items(*from, *to, 0.0f);
      ASSERT_TRUE(d.ok()) << d.status().to_string();
      EXPECT_EQ(d->remove.size(), 5u);
      EXPECT_EQ(d->upsert.size(), 33u);  // everything retrained
      for (bool half : {false, true}) {
        Result<std::vector<uint8_t>> bytes = write_item_delta(d.value(), half);
        ASSERT_TRUE(bytes.ok()) << bytes.status().to_string();
        Result<ItemDelta> back = parse_item_delta(std::make_shared<std::vector<uint8_t>>(bytes.value()));
        ASSERT_TRUE(back.ok()) << back.status().to_string();
        EXPECT_EQ(back->upsert, d->upsert);
        EXPECT_EQ(back->remove, d->remove);
        EXPECT_EQ(back->base, d->base);
        EXPECT_EQ(back->result, d->result);
        RecModel applied = *from;
        Status s = applied.apply_delta(back.value());
        ASSERT_TRUE(s.ok()) << s.to_string();
        EXPECT_EQ(applied.fingerprint(), d->result);
        EXPECT_EQ(applied.num_items(), 33);
        EXPECT_FALSE(applied.find_item("item0").ok());
        // Every item's parameters are the target's (within F16 rounding / int8 steps).
        const float tol = p == TablePrecision::kInt8 ? 0.05f : half ? 2e-3f : 0.0f;
        std::vector<float> r1(8), r2(8), f1(static_cast<size_t>(to->fold_dim())), f2(f1.size());
        for (int64_t i = 0; i < to->num_items(); ++i) {
          const int32_t j = applied.find_item(to->item_id(i)).value();
          float b1, b2;
          applied.item_params(j, r1.data(), &b1, f1.data());
          to->item_params(i, r2.data(), &b2, f2.data());
          EXPECT_NEAR(b1, b2, half ? 2e-3f : 0.0f);
          for (size_t k = 0; k < r1.size(); ++k) EXPECT_NEAR(r1[k], r2[k], tol * (1 + std::fabs(r2[k])));
          for (size_t k = 0; k < f1.size(); ++k) EXPECT_NEAR(f1[k], f2[k], half ? 2e-3f * (1 + std::fabs(f2[k])) : 0.0f);
        }
        // Once applied, the same delta no longer fits; nothing changes.
        EXPECT_EQ(applied.apply_delta(back.value()).code(), StatusCode::kFailedPrecondition);
        EXPECT_EQ(applied.num_items(), 33);
        // Nothing left to send between the updated model and the target (f32 only: exact copies).
        if (p == TablePrecision::kF32 && !half) {
          Result<ItemDelta> none = diff_items(applied, *to, 0.0f);
          ASSERT_TRUE(none.ok());
          EXPECT_TRUE(none->upsert.empty() && none->remove.empty());
        }
      }
    }
  }
}

TEST(ItemDelta, RefusesBadDeltasWithoutChangingTheModel) {
  const float rows[] = {1, 0, 0, 1, 1, 1};
  std::unique_ptr<RecModel> m = RecModel::from_table({"a", "b", "c"}, rows, 3, 2, nullptr, TablePrecision::kF32).value();
  const uint64_t before = m->fingerprint();
  ItemDelta d;
  d.kind = "table";
  d.dim = 2;
  d.base = before;
  d.upsert = {"d"};
  d.rows = {0.5f, 0.5f};
  d.bias = {0.0f};
  auto refuse = [&](ItemDelta x, StatusCode code) {
    Status s = m->apply_delta(x);
    EXPECT_EQ(s.code(), code) << s.to_string();
    EXPECT_EQ(m->fingerprint(), before);
    EXPECT_EQ(m->num_items(), 3);
  };
  refuse(d, StatusCode::kDataLoss);  // result fingerprint not the one it leads to
  ItemDelta x = d;
  x.base ^= 1;
  refuse(x, StatusCode::kFailedPrecondition);
  x = d;
  x.dim = 3;
  refuse(x, StatusCode::kInvalidArgument);
  x = d;
  x.rows = {0.5f, NAN};
  refuse(x, StatusCode::kInvalidArgument);
  x = d;
  x.remove = {"zzz"};
  refuse(x, StatusCode::kInvalidArgument);
  x = d;
  x.remove = {"a", "a"};
  refuse(x, StatusCode::kInvalidArgument);
  x = d;
  x.upsert = {"d", "d"};
  x.rows = {1, 1, 1, 1};
  x.bias = {0, 0};
  refuse(x, StatusCode::kInvalidArgument);
  x = d;
  x.upsert = {"a"};
  x.remove = {"a"};
  refuse(x, StatusCode::kInvalidArgument);
  x = d;
  x.upsert.clear();
  x.rows.clear();
  x.bias.clear();
  x.remove = {"a", "b", "c"};
  refuse(x, StatusCode::kInvalidArgument);
  x = d;
  x.bias.clear();
  refuse(x, StatusCode::kInvalidArgument);
  // Damaged files.
  std::vector<uint8_t> good = write_item_delta(d, false).value();
  for (size_t cut : {size_t(0), size_t(7), good.size() / 2, good.size() - 1}) {
    auto part = std::make_shared<std::vector<uint8_t>>(good.begin(), good.begin() + static_cast<int64_t>(cut));
    EXPECT_FALSE(parse_item_delta(part).ok()) << cut;
  }
  ASSERT_TRUE(parse_item_delta(std::make_shared<std::vector<uint8_t>>(good)).ok());
  std::vector<uint8_t> model_bytes = write_safetensors({}, {{"format", "vitrine"}, {"format_version", "1"}}).value();
  EXPECT_EQ(parse_item_delta(std::make_shared<std::vector<uint8_t>>(model_bytes)).status().code(), StatusCode::kInvalidArgument);
  for (const char* meta : {R"({"kind":"table","dim":2,"fold_dim":0,"base":"xyz","result":"0000000000000000","remove":[],"upsert":[]})",
                           R"({"kind":"table","dim":-1,"fold_dim":0,"base":"0000000000000000","result":"0000000000000000","remove":[],"upsert":[]})",
                           R"({"kind":"table","dim":2,"fold_dim":0,"base":"0000000000000000","result":"0000000000000000","remove":[1],"upsert":[]})",
                           R"({"kind":"table","dim":2,"fold_dim":0,"base":"0000000000000000","result":"0000000000000000","remove":[],"upsert":["x"]})"}) {
    std::vector<uint8_t> b = write_safetensors({}, {{"format", "vitrine"}, {"format_version", "1"}, {"recommender_delta", meta}}).value();
    EXPECT_EQ(parse_item_delta(std::make_shared<std::vector<uint8_t>>(b)).status().code(), StatusCode::kDataLoss) << meta;
  }
  // A good one applies: "d" appended.
  Result<ItemDelta> diffed = [&]() -> Result<ItemDelta> {
    const float more[] = {1, 0, 0, 1, 1, 1, 0.5f, 0.5f};
    std::unique_ptr<RecModel> target = RecModel::from_table({"a", "b", "c", "d"}, more, 4, 2, nullptr, TablePrecision::kF32).value();
    return diff_items(*m, *target, 0.0f);
  }();
  ASSERT_TRUE(diffed.ok());
  EXPECT_EQ(diffed->upsert, std::vector<std::string>{"d"});
  ASSERT_TRUE(m->apply_delta(diffed.value()).ok());
  EXPECT_EQ(m->find_item("d").value(), 3);
}

TEST(ItemTable, ProductQuantizationScoresByLookupAndKeepsItsCodebook) {
  std::mt19937 rng(11);
  const int64_t n = 600, d = 12;
  // Clustered rows: 20 centres plus small noise.
  const std::vector<float> centres = random_vec(20 * d, rng);
  std::vector<float> rows(static_cast<size_t>(n * d));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < d; ++j) rows[static_cast<size_t>(i * d + j)] = centres[static_cast<size_t>((i % 20) * d + j)] + 0.05f * random_vec(1, rng)[0];
  Result<ItemTable> pq = ItemTable::build_pq(rows.data(), n, d, 5, 3);  // uneven sub-spaces: widths 2 and 3
  ASSERT_TRUE(pq.ok()) << pq.status().to_string();
  EXPECT_EQ(pq->precision(), TablePrecision::kPQ);
  EXPECT_EQ(pq->pq_codes().size(), static_cast<size_t>(n * 5));
  const std::vector<float> user = random_vec(d, rng);
  std::vector<float> got(static_cast<size_t>(n)), row(static_cast<size_t>(d));
  pq->score(user.data(), nullptr, got.data(), 0, n);
  double err = 0, scale = 0;
  for (int64_t i = 0; i < n; ++i) {
    float want = 0, dec = 0;
    pq->row(i, row.data());
    for (int64_t j = 0; j < d; ++j) {
      want += rows[static_cast<size_t>(i * d + j)] * user[static_cast<size_t>(j)];
      dec += row[static_cast<size_t>(j)] * user[static_cast<size_t>(j)];
    }
    EXPECT_NEAR(got[static_cast<size_t>(i)], dec, 1e-4f * (1 + std::fabs(dec)));  // lookups == decoded rows
    err = std::max(err, static_cast<double>(std::fabs(got[static_cast<size_t>(i)] - want)));
    scale = std::max(scale, static_cast<double>(std::fabs(want)));
  }
  EXPECT_LT(err, 0.1 * scale);  // 256 centroids per 2-3 dimensions of 20 clusters: close
  // Deterministic, and new rows are coded with the same codebook (the table's own rows: same codes).
  Result<ItemTable> again = ItemTable::build_pq(rows.data(), n, d, 5, 3);
  EXPECT_EQ(again->pq_codes(), pq->pq_codes());
  Result<ItemTable> same = pq->with_rows(rows.data(), n);
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(same->pq_codes(), pq->pq_codes());
  EXPECT_EQ(same->pq_codebook(), pq->pq_codebook());
  // Bad input.
  EXPECT_FALSE(ItemTable::build_pq(rows.data(), n, d, 13).ok());
  EXPECT_FALSE(ItemTable::build_pq(rows.data(), n, d, 0).ok());
  EXPECT_FALSE(ItemTable::from_pq(n, d, 5, std::vector<uint8_t>(3), pq->pq_codebook()).ok());
  std::vector<float> nan_book = pq->pq_codebook();
  nan_book[7] = NAN;
  EXPECT_FALSE(ItemTable::from_pq(n, d, 5, pq->pq_codes(), nan_book).ok());
  EXPECT_FALSE(ItemTable::from_int8(2, 2, {1, 2, 3, -128}, {1.0f, 1.0f}).ok());
  EXPECT_FALSE(ItemTable::from_int8(2, 2, {1, 2, 3, 4}, {1.0f, 0.0f}).ok());
  EXPECT_FALSE(ItemTable::build(rows.data(), n, d, TablePrecision::kPQ).ok());
}

// top() of a PQ table with bounds looks up only the rows whose bound can enter, yet returns exactly
// top_k() over score(): the same items, score bits and order, for unrolled and generic sub-space
// counts, uneven sub-spaces, a partial last panel, bias (with ties), exclusions, any k, a zero and a
// huge user vector, a NaN one; tables of more than 256 sub-spaces rank without bounds.
TEST(ItemTable, PqTopWithBoundsEqualsTheFullRanking) {
  std::mt19937 rng(23);
  struct Case {
    int64_t n, d, m;
    bool tight;  // centroids 16c..16c+15 equal: groups are exact and bounds meet the scores
  };
  for (const Case c : {Case{1000, 64, 32, false}, Case{1003, 48, 16, false}, Case{517, 25, 12, false}, Case{300, 40, 8, false},
                       Case{77, 200, 16, false}, Case{40, 64, 64, false}, Case{33, 300, 300, false}, Case{2000, 64, 32, true},
                       Case{1500, 24, 12, true}, Case{300, 256, 256, false}, Case{700, 256, 256, true}}) {
    SCOPED_TRACE("n=" + std::to_string(c.n) + " d=" + std::to_string(c.d) + " m=" + std::to_string(c.m));
    std::vector<uint8_t> codes(static_cast<size_t>(c.n * c.m));
    for (auto& x : codes) x = static_cast<uint8_t>(rng() % 256);
    std::vector<float> book = random_vec(static_cast<size_t>(256 * c.d), rng);
    for (int64_t j = 0; c.tight && j < c.m; ++j) {
      const int64_t b = j * c.d / c.m, w = (j + 1) * c.d / c.m - b;
      for (int64_t k = 0; k < 256; ++k) std::copy_n(&book[static_cast<size_t>(256 * b + (k / 16 * 16) * w)], w, &book[static_cast<size_t>(256 * b + k * w)]);
    }
    Result<ItemTable> plain = ItemTable::from_pq(c.n, c.d, c.m, codes, book);
    ASSERT_TRUE(plain.ok()) << plain.status().to_string();
    ItemTable bounded = plain.value();
    bounded.add_bounds();
    EXPECT_EQ(bounded.has_bounds(), c.m <= 256);
    EXPECT_FALSE(plain->has_bounds());
    for (int trial = 0; trial < 12; ++trial) {
      std::vector<float> user = random_vec(static_cast<size_t>(c.d), rng);
      if (trial == 0) std::fill(user.begin(), user.end(), 0.0f);  // every score is the bias: ties
      if (trial == 1) for (float& x : user) x *= 1e6f;
      if (trial == 2) user[3] = NAN;
      if (trial == 3) for (float& x : user) x *= 1e37f;  // lookups near or past float's range
      std::vector<float> bias;
      if (trial % 2 == 0) {
        bias = random_vec(static_cast<size_t>(c.n), rng, trial % 4 == 0 ? 3.0f : 0.2f);
        if (trial % 4 == 0) for (float& b : bias) b = std::round(b);  // many equal biases
        if (trial == 6 || trial == 10) {  // biases the bound must survive: NaN, infinities, huge
          const float special[] = {NAN, INFINITY, -INFINITY, 1e30f, -1e30f, 3e38f, -3e38f, INFINITY};
          for (size_t s = 0; s < std::size(special); ++s) bias[(s * 7919 + static_cast<size_t>(trial)) % bias.size()] = special[s];
        }
      }
      std::vector<uint8_t> ex;
      if (trial % 3 == 1) {
        ex.resize(static_cast<size_t>(c.n));
        for (auto& e : ex) e = rng() % 5 == 0;
      }
      const float* bp = bias.empty() ? nullptr : bias.data();
      const uint8_t* ep = ex.empty() ? nullptr : ex.data();
      std::vector<float> all(static_cast<size_t>(c.n));
      plain->score(user.data(), bp, all.data(), 0, c.n);
      for (const int64_t k : {int64_t{1}, int64_t{10}, int64_t{100}, c.n + 5}) {
        const std::vector<ScoredItem> want = top_k(all.data(), c.n, k, ep);
        for (const ItemTable* t : {&bounded, &plain.value()}) {
          const std::vector<ScoredItem> got = t->top(user.data(), bp, k, ep);
          ASSERT_EQ(got.size(), want.size()) << "trial " << trial << " k " << k;
          for (size_t r = 0; r < got.size(); ++r) {
            ASSERT_EQ(got[r].item, want[r].item) << "trial " << trial << " k " << k << " rank " << r;
            ASSERT_EQ(std::memcmp(&got[r].score, &want[r].score, sizeof(float)), 0);
          }
        }
      }
      EXPECT_TRUE(bounded.top(user.data(), bp, 0, ep).empty());
    }
    // New rows coded with the same codebook keep the bounds.
    std::vector<float> rows(static_cast<size_t>(c.n * c.d));
    for (int64_t i = 0; i < c.n; ++i) bounded.row(i, rows.data() + i * c.d);
    Result<ItemTable> again = bounded.with_rows(rows.data(), c.n);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(again->has_bounds(), bounded.has_bounds());
    const std::vector<float> user = random_vec(static_cast<size_t>(c.d), rng);
    std::vector<float> all(static_cast<size_t>(c.n));
    again->score(user.data(), nullptr, all.data(), 0, c.n);
    const std::vector<ScoredItem> want = top_k(all.data(), c.n, 20, nullptr), got = again->top(user.data(), nullptr, 20, nullptr);
    ASSERT_EQ(got.size(), want.size());
    for (size_t r = 0; r < got.size(); ++r) EXPECT_EQ(got[r].item, want[r].item);
  }
  // Other precisions: no bounds, the same ranking.
  const std::vector<float> rows = random_vec(50 * 8, rng), user = random_vec(8, rng);
  ItemTable f16 = ItemTable::build(rows.data(), 50, 8, TablePrecision::kF16).value();
  f16.add_bounds();
  EXPECT_FALSE(f16.has_bounds());
  std::vector<float> all(50);
  f16.score(user.data(), nullptr, all.data(), 0, 50);
  const std::vector<ScoredItem> got = f16.top(user.data(), nullptr, 7, nullptr), want = top_k(all.data(), 50, 7, nullptr);
  ASSERT_EQ(got.size(), want.size());
  for (size_t r = 0; r < got.size(); ++r) EXPECT_EQ(got[r].item, want[r].item);
}

// Compact files of every kind: float files rank bit for bit like the model file, int8 like the
// model loaded as int8, PQ close; PQ re-saves keep their codes; deltas apply to PQ tables.
TEST(CompactModel, RoundTripsEveryKindAndStorage) {
  for (const std::string kind : {"mult-dae", "mf-bpr", "gru4rec", "linear"}) {
    SCOPED_TRACE(kind);
    auto r = train_small(kind, 5);
    ASSERT_TRUE(r.ok()) << r.status().message();
    std::unique_ptr<RecModel> f32 = RecModel::create(r->model, TablePrecision::kF32).value();
    std::unique_ptr<RecModel> i8 = RecModel::create(r->model, TablePrecision::kInt8).value();
    const auto h = hist({0, 3, 6, 3});
    auto scores = [&](const RecModel& m) {
      std::vector<float> user, s(static_cast<size_t>(m.num_items()));
      EXPECT_TRUE(m.fold_in(h, &user).ok());
      m.score(user.data(), s.data(), nullptr);
      return s;
    };
    auto reload = [&](const RecModel& m, RecModel::CompactOptions o, TablePrecision p = TablePrecision::kF32) {
      Result<std::vector<uint8_t>> bytes = m.save_compact(o);
      EXPECT_TRUE(bytes.ok()) << bytes.status().to_string();
      Result<std::unique_ptr<RecModel>> back = RecModel::load(std::make_shared<std::vector<uint8_t>>(bytes.value()), p);
      EXPECT_TRUE(back.ok()) << back.status().to_string();
      return std::move(back).value();
    };
    RecModel::CompactOptions o;
    o.half = false;
    std::unique_ptr<RecModel> back = reload(*f32, o);
    EXPECT_EQ(scores(*back), scores(*f32));
    EXPECT_EQ(back->fingerprint(), f32->fingerprint());
    EXPECT_EQ(back->kind(), kind);
    // int8 score rows, f32 fold rows: as the model file loaded with precision int8.
    o.rows = TablePrecision::kInt8;
    EXPECT_EQ(scores(*reload(*f32, o)), scores(*i8));
    // PQ: every sub-space one dimension wide keeps rankings close.
    o.rows = TablePrecision::kPQ;
    o.rows_m = f32->dim();
    o.fold = TablePrecision::kPQ;
    o.fold_m = std::max<int64_t>(1, f32->fold_dim());
    o.half = true;
    std::unique_ptr<RecModel> pq = reload(*f32, o);
    EXPECT_EQ(pq->table().precision(), TablePrecision::kPQ);
    const std::vector<float> a = scores(*f32), b = scores(*pq);
    for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 0.05f * (1 + std::fabs(a[i]))) << i;
    // Saving a PQ model again keeps its codes (no second quantization): the same bytes.
    EXPECT_EQ(pq->save_compact(o).value(), reload(*pq, o)->save_compact(o).value());
    // A delta onto the PQ model codes the new rows with its codebook.
    ItemDelta d;
    d.kind = kind;
    d.dim = pq->dim();
    d.fold_dim = pq->fold_dim();
    d.base = pq->fingerprint();
    d.upsert = {"brand-new"};
    d.rows.assign(static_cast<size_t>(d.dim), 0.1f);
    d.bias = {0.0f};
    d.fold.assign(static_cast<size_t>(d.fold_dim), 0.1f);
    std::unique_ptr<RecModel> tgt = reload(*pq, o);
    seal_item_delta(*tgt, &d);
    ASSERT_TRUE(tgt->apply_delta(d).ok());
    EXPECT_EQ(tgt->table().precision(), TablePrecision::kPQ);
    EXPECT_EQ(tgt->num_items(), pq->num_items() + 1);
    EXPECT_EQ(tgt->table().pq_codebook(), pq->table().pq_codebook());
  }
}

TEST(CompactModel, DamagedFilesAreRefusedWithReasons) {
  auto r = train_small("mult-dae", 2);
  ASSERT_TRUE(r.ok());
  std::unique_ptr<RecModel> m = RecModel::create(r->model, TablePrecision::kF32).value();
  RecModel::CompactOptions o;
  o.rows = TablePrecision::kPQ;
  o.rows_m = 4;
  const std::vector<uint8_t> good = m->save_compact(o).value();
  ASSERT_TRUE(RecModel::load(std::make_shared<std::vector<uint8_t>>(good), TablePrecision::kF32).ok());
  for (size_t cut : {size_t(8), good.size() / 3, good.size() - 2}) {
    EXPECT_FALSE(RecModel::load(std::make_shared<std::vector<uint8_t>>(good.begin(), good.begin() + static_cast<int64_t>(cut)),
                                TablePrecision::kF32).ok()) << cut;
  }
  // Rewritten parts: a tensor dropped, a wrong shape, a NaN, an unknown storage.
  SafetensorsFile f = SafetensorsFile::parse(good.data(), good.size()).value();
  auto rewrite = [&](const std::string& drop, std::pair<std::string, Tensor> extra, std::string storage) {
    std::vector<std::pair<std::string, Tensor>> t;
    for (const std::string& name : f.names()) {
      if (name == drop || name == extra.first) continue;
      t.emplace_back(name, f.typed_tensor(name).value());
    }
    if (!extra.first.empty()) t.push_back(extra);
    std::map<std::string, std::string> meta = f.metadata();
    if (!storage.empty()) meta["recommender_storage"] = storage;
    return RecModel::load(std::make_shared<std::vector<uint8_t>>(write_safetensors(t, meta).value()), TablePrecision::kF32).status();
  };
  EXPECT_EQ(rewrite("", {"", Tensor()}, "").code(), StatusCode::kOk);
  EXPECT_EQ(rewrite("bias", {"", Tensor()}, "").code(), StatusCode::kDataLoss);
  EXPECT_EQ(rewrite("rows.codes", {"", Tensor()}, "").code(), StatusCode::kDataLoss);
  EXPECT_EQ(rewrite("", {"rows.codes", Tensor::zeros(Shape{3, 4}, DType::kU8).value()}, "").code(), StatusCode::kDataLoss);
  EXPECT_EQ(rewrite("", {"rows.codebook", Tensor::zeros(Shape{100}).value()}, "").code(), StatusCode::kDataLoss);
  Tensor nan_bias = Tensor::zeros(Shape{m->num_items()}).value();
  nan_bias.mutable_data()[1] = NAN;
  EXPECT_EQ(rewrite("", {"bias", nan_bias}, "").code(), StatusCode::kDataLoss);
  EXPECT_EQ(rewrite("", {"", Tensor()}, R"({"rows":"zip","rows_m":4,"fold":"float","fold_m":0})").code(), StatusCode::kDataLoss);
  EXPECT_EQ(rewrite("", {"", Tensor()}, R"({"rows":"pq","rows_m":9999,"fold":"float","fold_m":0})").code(), StatusCode::kDataLoss);
  EXPECT_EQ(rewrite("", {"", Tensor()}, "[").code(), StatusCode::kDataLoss);
}

// Items whose vectors follow their category: the content map learns it and places new items of
// a category next to that category's trained items.
TEST(ContentMap, PlacesNewItemsByTheirContent) {
  std::mt19937 rng(5);
  const int64_t n = 120, d = 6;
  const std::vector<std::string> cats = {"Shoes", "Bags", "Hats"};
  const std::vector<float> centre = random_vec(3 * d, rng, 2.0f);
  std::vector<std::string> ids;
  std::vector<float> rows;
  std::vector<ItemContent> content;
  for (int64_t i = 0; i < n; ++i) {
    const int c = static_cast<int>(i % 3);
    ids.push_back("p" + std::to_string(i));
    for (int64_t j = 0; j < d; ++j) rows.push_back(centre[static_cast<size_t>(c * d + j)] + 0.1f * random_vec(1, rng)[0]);
    ItemContent ic;
    ic.id = ids.back();
    ic.title = "Item " + std::to_string(i) + (c == 0 ? " running shoe" : c == 1 ? " leather bag" : " wool hat");
    ic.categories = {cats[static_cast<size_t>(c)]};
    ic.year = 2000 + static_cast<double>(i % 20);
    content.push_back(ic);
  }
  std::unique_ptr<RecModel> m = RecModel::from_table(ids, rows.data(), n, d, nullptr, TablePrecision::kF32).value();
  ItemContent shoe;
  shoe.id = "new-shoe";
  shoe.title = "Trail running shoe";
  shoe.categories = {"SHOES"};  // categories match case-insensitively
  EXPECT_EQ(m->add_items({shoe}).code(), StatusCode::kFailedPrecondition);
  ASSERT_TRUE(m->fit_content(content, 256).ok());
  ASSERT_NE(m->content(), nullptr);
  EXPECT_GT(m->content()->lambda(), 0);
  ItemContent hat = shoe;
  hat.id = "new-hat";
  hat.title = "Winter hat";
  hat.categories = {"Hats"};
  ASSERT_TRUE(m->add_items({shoe, hat}).ok());
  EXPECT_EQ(m->num_items(), n + 2);
  // The new shoe's nearest trained items are shoes, the hat's are hats.
  for (const auto& [id, cat] : std::vector<std::pair<std::string, int>>{{"new-shoe", 0}, {"new-hat", 2}}) {
    const int32_t i = m->find_item(id).value();
    for (const ScoredItem& s : m->similar_items(i, 5, nullptr)) EXPECT_EQ(s.item % 3, cat) << id << " " << s.item;
  }
  // Refusals change nothing.
  EXPECT_EQ(m->add_items({shoe}).code(), StatusCode::kInvalidArgument);  // already added
  ItemContent twice = shoe;
  twice.id = "x";
  EXPECT_EQ(m->add_items({twice, twice}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(m->num_items(), n + 2);
  // The map travels in compact files.
  RecModel::CompactOptions o;
  o.half = false;
  std::unique_ptr<RecModel> back = RecModel::load(std::make_shared<std::vector<uint8_t>>(m->save_compact(o).value()), TablePrecision::kF32).value();
  ASSERT_NE(back->content(), nullptr);
  std::vector<float> a(static_cast<size_t>(d + 1)), b(a.size());
  m->content()->predict(hat, a.data());
  back->content()->predict(hat, b.data());
  EXPECT_EQ(a, b);
  // A map made for another feature set is never used: the model loads and ranks without it, and
  // addItems says why.
  std::vector<uint8_t> file = m->save_compact(o).value();
  std::string text(file.begin(), file.end());
  const size_t at = text.find(R"(\"features\":2)");
  ASSERT_NE(at, std::string::npos);
  file[at + 13] = '1';
  std::unique_ptr<RecModel> other = RecModel::load(std::make_shared<std::vector<uint8_t>>(file), TablePrecision::kF32).value();
  EXPECT_EQ(other->content(), nullptr);
  EXPECT_EQ(other->num_items(), m->num_items());
  ItemContent late = hat;
  late.id = "late-hat";
  const Status refused = other->add_items({late});
  EXPECT_EQ(refused.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.message().find("other content features (set 1"), std::string::npos) << refused.message();
  // A long description costs a bounded number of features (the fit is quadratic in them).
  ItemContent essay = hat;
  for (int w = 0; w < 5000; ++w) essay.description += "word" + std::to_string(w) + " ";
  EXPECT_LE(m->content()->features(essay).size(), 200u);
  // Too few items to fit; malformed content lists.
  EXPECT_FALSE(m->fit_content(std::vector<ItemContent>(content.begin(), content.begin() + 5)).ok());
  for (const char* bad : {R"([{"title": "no id"}])", R"([{"id": "a", "categories": "Shoes"}])", R"([{"id": "a", "year": "1999"}])",
                          R"({"items": 3})", R"([{"id": "a", "title": 7}])"}) {
    Json j = parse_json(bad).value();
    EXPECT_EQ(parse_item_content(j.ref()).status().code(), StatusCode::kInvalidArgument) << bad;
  }
  Json good = parse_json(R"({"items": [{"id": "a", "title": "T", "categories": ["x"], "year": 1999, "extra": 1}]})").value();
  Result<std::vector<ItemContent>> parsed = parse_item_content(good.ref());
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->at(0).year, 1999);
}

}  // namespace
}  // namespace vitrine
