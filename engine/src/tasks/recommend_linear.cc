// The linear recommender (kind "linear", recommend_train.h): EASE with emphasized denoising
// (EDLAE), fitted in closed form and stored as two item tables of a low-rank product.
//
// With X the training users' 0/1 matrix (U, I), G = X^T X and the diagonal regularizer
//   D = diag(lambda + p / (1 - p) * G_ii)          (p = 0: EASE; Steck 2020 for p > 0),
// the zero-diagonal solution is B = I - P diagMat(1 / diag(P)), P = (G + D)^-1. Off the diagonal
//   B_ji = S_ji / P_ii,   S = D^-1 - P = D^-1/2 H (H + I)^-1 D^-1/2,   H = D^-1/2 G D^-1/2,
// and the diagonal only scores items the user already has (never ranked). S is factored as F F^T:
//   exact (U <= dim and the dense (U, I) fits): F = D^-1/2 Xs^T L^-T with Xs = X D^-1/2 and
//     L L^T = I + Xs Xs^T (Cholesky, U x U): F has U columns;
//   otherwise the dim leading eigenpairs (h, v) of H (randomized subspace iteration, then a
//     small symmetric eigenproblem): F = D^-1/2 V diag(sqrt(h / (1 + h))).
// Then score rows Q_i = F_i / diag(P)_i with diag(P)_i = 1 / d_i - |F_i|^2 and the fold-in row of
// item i is diag(P)_i * Q_i = F_i, so that <sum of the history's fold rows, Q_i> = the history's
// EASE score of item i: one table of width r plus one scale per item.
#include <algorithm>
#include <cmath>
#include <random>
#include <unordered_set>

#include "vitrine/graph.h"
#include "vitrine/json.h"
#include "vitrine/recommend_train.h"

namespace vitrine {
namespace {

constexpr int64_t kOversample = 16;   // extra columns of the randomized range finder
constexpr int kPowerIterations = 4;   // subspace iterations after the first product
constexpr int64_t kMaxDenseDual = int64_t{1} << 23;  // values of the exact path's (U, I) matrix
constexpr int64_t kMaxSubspace = int64_t{1} << 25;   // values of the randomized path's (I, dim + 16) blocks

// Users' distinct items (a 0/1 matrix by rows) and each item's user count.
struct Binary {
  std::vector<std::vector<int32_t>> rows;
  std::vector<double> count;
};

Result<Binary> binary(const RecTrainData& data, int64_t n) {
  Binary b;
  b.count.assign(static_cast<size_t>(n), 0.0);
  for (const std::vector<int32_t>& h : data.histories) {
    std::vector<int32_t> r(h);
    std::sort(r.begin(), r.end());
    r.erase(std::unique(r.begin(), r.end()), r.end());
    if (r.empty()) continue;
    if (r.front() < 0 || r.back() >= n) {
      return Status::InvalidArgument("linear recommender: item index " + std::to_string(r.front() < 0 ? r.front() : r.back()) +
                                     " outside [0, " + std::to_string(n) + ")");
    }
    for (int32_t i : r) b.count[static_cast<size_t>(i)] += 1;
    b.rows.push_back(std::move(r));
  }
  return b;
}

// Symmetric eigen-decomposition of a (k, k) row-major matrix by cyclic Jacobi rotations: one
// small dense problem per fit (k = dim + kOversample), and the wasm build has no LAPACK.
// Returns eigenvalues descending in *values and the matching unit eigenvectors as the columns
// of *vectors (k, k); `a` is destroyed.
void jacobi_eigen(std::vector<double>& a, int64_t k, std::vector<double>* values, std::vector<double>* vectors) {
  std::vector<double> v(static_cast<size_t>(k * k), 0.0);
  for (int64_t i = 0; i < k; ++i) v[static_cast<size_t>(i * k + i)] = 1.0;
  double total = 0;
  for (double x : a) total += x * x;
  for (int sweep = 0; sweep < 100; ++sweep) {
    double off = 0;
    for (int64_t p = 0; p < k; ++p)
      for (int64_t q = p + 1; q < k; ++q) off += a[static_cast<size_t>(p * k + q)] * a[static_cast<size_t>(p * k + q)];
    if (off <= 1e-28 * total || off == 0) break;
    for (int64_t p = 0; p < k; ++p) {
      for (int64_t q = p + 1; q < k; ++q) {
        const double apq = a[static_cast<size_t>(p * k + q)];
        if (std::fabs(apq) < 1e-300) continue;
        const double theta = (a[static_cast<size_t>(q * k + q)] - a[static_cast<size_t>(p * k + p)]) / (2 * apq);
        const double t = (theta >= 0 ? 1.0 : -1.0) / (std::fabs(theta) + std::sqrt(theta * theta + 1));
        const double c = 1 / std::sqrt(t * t + 1), s = t * c;
        auto rotate = [c, s](double& x, double& y) {
          const double xp = x, yq = y;
          x = c * xp - s * yq;
          y = s * xp + c * yq;
        };
        for (int64_t r = 0; r < k; ++r) rotate(a[static_cast<size_t>(r * k + p)], a[static_cast<size_t>(r * k + q)]);  // columns
        for (int64_t r = 0; r < k; ++r) rotate(a[static_cast<size_t>(p * k + r)], a[static_cast<size_t>(q * k + r)]);  // rows
        for (int64_t r = 0; r < k; ++r) rotate(v[static_cast<size_t>(r * k + p)], v[static_cast<size_t>(r * k + q)]);
      }
    }
  }
  std::vector<int64_t> order(static_cast<size_t>(k));
  for (int64_t i = 0; i < k; ++i) order[static_cast<size_t>(i)] = i;
  std::stable_sort(order.begin(), order.end(), [&](int64_t x, int64_t y) {
    return a[static_cast<size_t>(x * k + x)] > a[static_cast<size_t>(y * k + y)];
  });
  values->resize(static_cast<size_t>(k));
  vectors->resize(static_cast<size_t>(k * k));
  for (int64_t j = 0; j < k; ++j) {
    const int64_t src = order[static_cast<size_t>(j)];
    (*values)[static_cast<size_t>(j)] = a[static_cast<size_t>(src * k + src)];
    for (int64_t r = 0; r < k; ++r) (*vectors)[static_cast<size_t>(r * k + j)] = v[static_cast<size_t>(r * k + src)];
  }
}

// Orthonormalizes the k columns of y (n, k) row-major in place (modified Gram-Schmidt, twice,
// on a column-major copy); a column that vanishes against the earlier ones becomes zero.
void orthonormalize(std::vector<double>& y, int64_t n, int64_t k) {
  std::vector<double> c(static_cast<size_t>(n * k));  // column j at [j * n, (j + 1) * n)
  for (int64_t r = 0; r < n; ++r)
    for (int64_t j = 0; j < k; ++j) c[static_cast<size_t>(j * n + r)] = y[static_cast<size_t>(r * k + j)];
  for (int64_t j = 0; j < k; ++j) {
    double* cj = &c[static_cast<size_t>(j * n)];
    double norm0 = 0;
    for (int64_t r = 0; r < n; ++r) norm0 += cj[r] * cj[r];
    for (int pass = 0; pass < 2; ++pass) {
      for (int64_t i = 0; i < j; ++i) {
        const double* ci = &c[static_cast<size_t>(i * n)];
        double dot = 0;
        for (int64_t r = 0; r < n; ++r) dot += ci[r] * cj[r];
        for (int64_t r = 0; r < n; ++r) cj[r] -= dot * ci[r];
      }
    }
    double norm = 0;
    for (int64_t r = 0; r < n; ++r) norm += cj[r] * cj[r];
    const double scale = norm > 1e-20 * norm0 && norm > 0 ? 1 / std::sqrt(norm) : 0.0;
    for (int64_t r = 0; r < n; ++r) cj[r] *= scale;
  }
  for (int64_t r = 0; r < n; ++r)
    for (int64_t j = 0; j < k; ++j) y[static_cast<size_t>(r * k + j)] = c[static_cast<size_t>(j * n + r)];
}

// out (n, k) = H y = Xs^T (Xs y) for y (n, k), Xs = X diag(s).
void apply_h(const Binary& x, const std::vector<double>& s, const std::vector<double>& y, int64_t n, int64_t k,
             std::vector<double>* out) {
  out->assign(static_cast<size_t>(n * k), 0.0);
  std::vector<double> t(static_cast<size_t>(k));
  for (const std::vector<int32_t>& row : x.rows) {
    std::fill(t.begin(), t.end(), 0.0);
    for (int32_t i : row) {
      const double si = s[static_cast<size_t>(i)];
      const double* yi = &y[static_cast<size_t>(i * k)];
      for (int64_t j = 0; j < k; ++j) t[static_cast<size_t>(j)] += si * yi[j];
    }
    for (int32_t i : row) {
      const double si = s[static_cast<size_t>(i)];
      double* oi = &(*out)[static_cast<size_t>(i * k)];
      for (int64_t j = 0; j < k; ++j) oi[j] += si * t[static_cast<size_t>(j)];
    }
  }
}

// F (n, r) with F F^T = the factored S of the header comment, exactly (dual Cholesky).
Status factor_exact(const Binary& x, const std::vector<double>& s, int64_t n, std::vector<double>* f, int64_t* r) {
  const int64_t u = static_cast<int64_t>(x.rows.size());
  // Xs dense (U, I), then K = I + Xs Xs^T (U, U) from the sparse rows.
  std::vector<double> z(static_cast<size_t>(u * n), 0.0);
  for (int64_t a = 0; a < u; ++a)
    for (int32_t i : x.rows[static_cast<size_t>(a)]) z[static_cast<size_t>(a * n + i)] = s[static_cast<size_t>(i)];
  std::vector<double> k(static_cast<size_t>(u * u), 0.0);
  for (int64_t a = 0; a < u; ++a) {
    k[static_cast<size_t>(a * u + a)] = 1.0;
    for (int64_t b = 0; b <= a; ++b) {
      double dot = 0;
      for (int32_t i : x.rows[static_cast<size_t>(a)]) dot += s[static_cast<size_t>(i)] * z[static_cast<size_t>(b * n + i)];
      k[static_cast<size_t>(a * u + b)] += dot;
    }
  }
  // Cholesky K = L L^T (lower, in place); K >= I so it cannot fail but for non-finite input.
  for (int64_t j = 0; j < u; ++j) {
    double d = k[static_cast<size_t>(j * u + j)];
    for (int64_t c = 0; c < j; ++c) d -= k[static_cast<size_t>(j * u + c)] * k[static_cast<size_t>(j * u + c)];
    if (!(d > 0)) return Status::FailedPrecondition("linear recommender: the regularized Gram matrix is not positive definite");
    const double l = std::sqrt(d);
    k[static_cast<size_t>(j * u + j)] = l;
    for (int64_t a = j + 1; a < u; ++a) {
      double v = k[static_cast<size_t>(a * u + j)];
      for (int64_t c = 0; c < j; ++c) v -= k[static_cast<size_t>(a * u + c)] * k[static_cast<size_t>(j * u + c)];
      k[static_cast<size_t>(a * u + j)] = v / l;
    }
  }
  // Z = L^-1 Xs (forward substitution, row by row of Z), in place.
  for (int64_t a = 0; a < u; ++a) {
    double* za = &z[static_cast<size_t>(a * n)];
    for (int64_t c = 0; c < a; ++c) {
      const double l = k[static_cast<size_t>(a * u + c)];
      if (l == 0) continue;
      const double* zc = &z[static_cast<size_t>(c * n)];
      for (int64_t i = 0; i < n; ++i) za[i] -= l * zc[i];
    }
    const double inv = 1 / k[static_cast<size_t>(a * u + a)];
    for (int64_t i = 0; i < n; ++i) za[i] *= inv;
  }
  f->assign(static_cast<size_t>(n * u), 0.0);
  for (int64_t a = 0; a < u; ++a)
    for (int64_t i = 0; i < n; ++i) (*f)[static_cast<size_t>(i * u + a)] = s[static_cast<size_t>(i)] * z[static_cast<size_t>(a * n + i)];
  *r = u;
  return Status::Ok();
}

// F (n, r) from the leading eigenpairs of H (randomized subspace iteration).
void factor_low_rank(const Binary& x, const std::vector<double>& s, int64_t n, int64_t dim, uint32_t seed,
                     std::vector<double>* f, int64_t* r) {
  const int64_t k = std::min<int64_t>(dim + kOversample, n);
  // A random +-1 start from raw generator bits: the same matrix in every build (the standard
  // distributions are implementation-defined, and libc++ (wasm) and libstdc++ differ).
  std::mt19937_64 rng(seed);
  std::vector<double> q(static_cast<size_t>(n * k)), y;
  for (double& v : q) v = (rng() >> 63) ? 1.0 : -1.0;
  for (int it = 0; it <= kPowerIterations; ++it) {
    apply_h(x, s, q, n, k, &y);
    q.swap(y);
    orthonormalize(q, n, k);
  }
  apply_h(x, s, q, n, k, &y);  // y = H Q
  std::vector<double> t(static_cast<size_t>(k * k), 0.0);  // Q^T H Q
  for (int64_t i = 0; i < n; ++i) {
    const double* qi = &q[static_cast<size_t>(i * k)];
    const double* yi = &y[static_cast<size_t>(i * k)];
    for (int64_t a = 0; a < k; ++a)
      for (int64_t b = 0; b < k; ++b) t[static_cast<size_t>(a * k + b)] += qi[a] * yi[b];
  }
  for (int64_t a = 0; a < k; ++a)  // symmetric up to rounding
    for (int64_t b = 0; b < a; ++b) {
      const double m = 0.5 * (t[static_cast<size_t>(a * k + b)] + t[static_cast<size_t>(b * k + a)]);
      t[static_cast<size_t>(a * k + b)] = t[static_cast<size_t>(b * k + a)] = m;
    }
  std::vector<double>().swap(y);  // peak memory: only q is needed from here
  std::vector<double> h, w;
  jacobi_eigen(t, k, &h, &w);
  const double top = h.empty() ? 0 : h[0];
  int64_t keep = 0;
  while (keep < std::min(dim, k) && h[static_cast<size_t>(keep)] > 1e-9 * top) ++keep;
  *r = std::max<int64_t>(keep, 1);
  f->assign(static_cast<size_t>(n * *r), 0.0);
  for (int64_t i = 0; i < n; ++i) {
    const double* qi = &q[static_cast<size_t>(i * k)];
    for (int64_t j = 0; j < keep; ++j) {
      double v = 0;
      for (int64_t a = 0; a < k; ++a) v += qi[a] * w[static_cast<size_t>(a * k + j)];
      const double hj = h[static_cast<size_t>(j)];
      (*f)[static_cast<size_t>(i * *r + j)] = s[static_cast<size_t>(i)] * v * std::sqrt(hj / (1 + hj));
    }
  }
}

}  // namespace

Result<LoadedModel> fit_linear_recommender(const RecTrainData& data, const RecTrainOptions& o) {
  const int64_t n = static_cast<int64_t>(data.item_ids.size());
  if (!(o.l2 > 0) || !std::isfinite(o.l2) || !(o.dropout >= 0 && o.dropout < 1) || o.dim < 1 || o.dim > kMaxLinearDim) {
    return Status::InvalidArgument("linear recommender: needs l2 > 0, 0 <= dropout < 1 and 1 <= dim <= " +
                                   std::to_string(kMaxLinearDim));
  }
  VITRINE_ASSIGN_OR_RETURN(const Binary x, binary(data, n));
  if (x.rows.empty()) return Status::InvalidArgument("recommender training: no user has an item");
  const int64_t u = static_cast<int64_t>(x.rows.size());
  const double emphasis = o.dropout / (1 - o.dropout);
  std::vector<double> d(static_cast<size_t>(n)), s(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    d[static_cast<size_t>(i)] = o.l2 + emphasis * x.count[static_cast<size_t>(i)];
    s[static_cast<size_t>(i)] = 1 / std::sqrt(d[static_cast<size_t>(i)]);
  }
  std::vector<double> f;
  int64_t r = 0;
  const bool exact = u <= o.dim && u <= n && u * n <= kMaxDenseDual;
  if (!exact && n * std::min<int64_t>(o.dim + kOversample, n) > kMaxSubspace) {
    return Status::ResourceExhausted("linear recommender: " + std::to_string(n) + " items x dim " + std::to_string(o.dim) +
                                     " is more than this fit holds in memory (" + std::to_string(kMaxSubspace) +
                                     " values per block): lower dim");
  }
  if (exact) {
    VITRINE_RETURN_IF_ERROR(factor_exact(x, s, n, &f, &r));
  } else {
    factor_low_rank(x, s, n, o.dim, o.seed, &f, &r);
  }
  // Score rows Q_i = F_i / diag(P)_i; the fold-in row of item i is diag(P)_i * Q_i (= F_i), so one
  // table and one scale per item hold both. The scales are stored divided by their largest (all
  // scores scaled alike: rankings unchanged), which keeps them in F16's normal range.
  VITRINE_ASSIGN_OR_RETURN(Tensor dec_w, Tensor::zeros(Shape{n, r}));
  VITRINE_ASSIGN_OR_RETURN(Tensor dec_b, Tensor::zeros(Shape{n}));
  VITRINE_ASSIGN_OR_RETURN(Tensor scale, Tensor::zeros(Shape{n}));
  std::vector<double> diag_p(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    double sq = 0;
    for (int64_t j = 0; j < r; ++j) sq += f[static_cast<size_t>(i * r + j)] * f[static_cast<size_t>(i * r + j)];
    diag_p[static_cast<size_t>(i)] = std::max(1 / d[static_cast<size_t>(i)] - sq, 1e-9 / d[static_cast<size_t>(i)]);
  }
  const double top_p = *std::max_element(diag_p.begin(), diag_p.end());
  const double most = *std::max_element(x.count.begin(), x.count.end());
  for (int64_t i = 0; i < n; ++i) {
    const double p = diag_p[static_cast<size_t>(i)];
    for (int64_t j = 0; j < r; ++j) dec_w.mutable_data()[i * r + j] = static_cast<float>(f[static_cast<size_t>(i * r + j)] / p);
    scale.mutable_data()[i] = static_cast<float>(p / top_p);
    // Popularity times 1e-4 (scores are EASE scores / top_p, >= lambda times them): a tie-break
    // that ranks an empty history by popularity; F16 files keep it down to 1 / 1700 of the top count.
    dec_b.mutable_data()[i] = static_cast<float>(1e-4 * x.count[static_cast<size_t>(i)] / most);
  }
  for (int64_t e = 0; e < dec_w.num_elements(); ++e) {
    if (!std::isfinite(dec_w.data()[e])) return Status::FailedPrecondition("linear recommender: the fit is not finite (raise l2)");
  }
  // The inference graph: x (1, I) (the history's weights) * fold.scale -> matmul dec.w (1, D)
  // -> dense(dec.w, dec.b) -> scores (1, I).
  auto graph = std::make_shared<Graph>();
  VITRINE_ASSIGN_OR_RETURN(int in, graph->add_input("x", Shape{1, n}));
  VITRINE_ASSIGN_OR_RETURN(int sc, graph->add_constant("fold.scale", std::move(scale)));
  VITRINE_ASSIGN_OR_RETURN(int dw, graph->add_constant("dec.w", std::move(dec_w)));
  VITRINE_ASSIGN_OR_RETURN(int db, graph->add_constant("dec.b", std::move(dec_b)));
  VITRINE_ASSIGN_OR_RETURN(int xs, graph->add(OpType::kMul, "scaled", {in, sc}));
  VITRINE_ASSIGN_OR_RETURN(int user, graph->add(OpType::kMatMul, "user", {xs, dw}));
  VITRINE_ASSIGN_OR_RETURN(int out, graph->add(OpType::kDense, "dec", {user, dw, db}));
  VITRINE_RETURN_IF_ERROR(graph->add_output(out, "scores"));
  Json::Array items;
  items.reserve(data.item_ids.size());
  for (const std::string& id : data.item_ids) items.emplace_back(id);
  Json::Object t = {{"dim", r}, {"l2", o.l2}, {"dropout", o.dropout}, {"users", u},
                    {"solver", exact ? "exact" : "randomized"}};
  Json meta = Json::object({{"kind", std::string("linear")}, {"items", Json::array(std::move(items))},
                            {"training", Json::object(std::move(t))}});
  LoadedModel m;
  m.graph = graph;
  m.format = "vitrine";
  m.metadata["task"] = "recommend";
  m.metadata["recommender"] = meta.dump();
  return m;
}

}  // namespace vitrine
