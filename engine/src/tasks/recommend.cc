// Item tables, top-k, MMR and the recommender models' fold-in (recommend.h).
//
// The inner loops use GCC/Clang vector extensions (4 float lanes): native x86 gets SSE, wasm gets
// SIMD128, and both run the same operations in the same order (no FMA on either: the engine is
// built without -mfma and wasm SIMD128 has none), so scores and rankings agree bit for bit.
#include "vitrine/recommend.h"

#include <pthreadpool.h>

#if defined(__wasm_simd128__)
#include <wasm_simd128.h>
#elif defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <numeric>
#include <unordered_set>

#include "vitrine/json.h"
#include "vitrine/safetensors.h"
#include "vitrine/text.h"
#include "../core/half.h"
#include "../ops/fast_math.h"

namespace vitrine {
namespace {

typedef float v4f __attribute__((vector_size(16)));
typedef int32_t v4i __attribute__((vector_size(16)));
typedef uint32_t v4u __attribute__((vector_size(16)));
typedef uint16_t v4h __attribute__((vector_size(8)));

// The index of the first non-finite value of v[0, n), or -1: a branch-free pass (it vectorizes),
// then a search only when one is there.
int64_t first_non_finite(const float* v, int64_t n) {
  uint32_t bad = 0;
  for (int64_t i = 0; i < n; ++i) {
    uint32_t bits;
    std::memcpy(&bits, v + i, sizeof bits);
    bad |= (bits & 0x7F800000u) == 0x7F800000u;
  }
  if (!bad) return -1;
  for (int64_t i = 0; i < n; ++i) {
    if (!std::isfinite(v[i])) return i;
  }
  return -1;
}

// InvalidArgument naming the item and dimension of the first non-finite value of rows (n, d).
Status check_finite_rows(const float* rows, int64_t n, int64_t d) {
  const int64_t i = first_non_finite(rows, n * d);
  if (i < 0) return Status::Ok();
  return Status::InvalidArgument("item table: non-finite value at item " + std::to_string(i / d) +
                                 ", dimension " + std::to_string(i % d));
}

inline v4f load4(const float* p) {
  v4f v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline float lane_sum(v4f a, v4f b) {
  const v4f s = a + b;
  return (s[0] + s[1]) + (s[2] + s[3]);
}

// ---- half precision ---------------------------------------------------------------------------

// Exact for every finite half: the exponent is rebased by multiplying with 2^112.
inline v4f f16x4_to_f32(const uint16_t* p) {
  v4h h;
  std::memcpy(&h, p, sizeof h);
  const v4u w = __builtin_convertvector(h, v4u);
  const v4u mag = (w & 0x7fffu) << 13;
  const v4u sign = (w & 0x8000u) << 16;
  v4f m;
  std::memcpy(&m, &mag, 16);
  m = m * 5.192296858534828e33f;  // 2^112
  v4u mb;
  std::memcpy(&mb, &m, 16);
  mb |= sign;
  v4f out;
  std::memcpy(&out, &mb, 16);
  return out;
}
inline float f16_to_f32(uint16_t h) {
  uint16_t four[4] = {h, 0, 0, 0};
  return f16x4_to_f32(four)[0];
}

// A stored value as a float: f32 as it is, f16 widened exactly.
inline float to_f32(float v) { return v; }
inline float to_f32(uint16_t h) { return f16_to_f32(h); }

// The dot product of two f32 vectors; 8 lanes, fixed order, scalar tail.
float dot_row(const float* r, const float* u, int64_t d) {
  v4f a0 = {0, 0, 0, 0}, a1 = a0;
  int64_t j = 0;
  for (; j + 8 <= d; j += 8) {
    a0 += load4(r + j) * load4(u + j);
    a1 += load4(r + j + 4) * load4(u + j + 4);
  }
  float s = lane_sum(a0, a1);
  for (; j < d; ++j) s += r[j] * u[j];
  return s;
}
// Panel layout (f32 and f16 tables): items in panels of kPanel, a panel stored dimension-major
// (panel, d, kPanel), so one vector load holds dimension j of 4 neighbouring items. Every item's
// score is one sequential sum over j (s = s + r_j * u_j from s = 0): the SIMD kernel keeps one
// lane per item, and a single item (dot_lane) adds the same products in the same order.
template <typename T>
float dot_lane(const T* r, const float* u, int64_t d, int64_t stride) {
  float s = 0;
  for (int64_t j = 0; j < d; ++j) s += to_f32(r[j * stride]) * u[j];
  return s;
}
// out[0..16) = a panel's four vectors of scores (+ bias[0..16) when bias is non-null).
inline void store_panel(v4f a0, v4f a1, v4f a2, v4f a3, const float* bias, float* out) {
  if (bias) {
    a0 += load4(bias);
    a1 += load4(bias + 4);
    a2 += load4(bias + 8);
    a3 += load4(bias + 12);
  }
  std::memcpy(out, &a0, 16);
  std::memcpy(out + 4, &a1, 16);
  std::memcpy(out + 8, &a2, 16);
  std::memcpy(out + 12, &a3, 16);
}
// out[0..kPanel) = scores of one whole f32 panel (+ bias[0..kPanel) when bias is non-null).
void score_panel(const float* p, const float* u, int64_t d, const float* bias, float* out) {
  static_assert(ItemTable::kPanel == 16, "the kernel holds one panel in four vectors");
  v4f a0 = {0, 0, 0, 0}, a1 = a0, a2 = a0, a3 = a0;
  for (int64_t j = 0; j < d; ++j, p += 16) {
    const float x = u[j];
    const v4f uj = {x, x, x, x};
    a0 += load4(p) * uj;
    a1 += load4(p + 4) * uj;
    a2 += load4(p + 8) * uj;
    a3 += load4(p + 12) * uj;
  }
  store_panel(a0, a1, a2, a3, bias, out);
}

// int8 rows against an int16-quantized user vector: exact integer dot products (pairwise
// 16-bit multiply-adds into 32-bit lanes: SSE2 pmaddwd natively, i32x4.dot_i16x8_s in wasm), so
// every platform computes the same sums. |q_user| <= kUserQ keeps them inside int32 for d <= 2048.
constexpr int32_t kUserQ = 8191;
typedef int16_t v8s __attribute__((vector_size(16)));
typedef int8_t v8b __attribute__((vector_size(8)));

inline v4i madd16(v8s a, v8s b) {
#if defined(__wasm_simd128__)
  return (v4i)wasm_i32x4_dot_i16x8((v128_t)a, (v128_t)b);
#elif defined(__SSE2__)
  return (v4i)_mm_madd_epi16((__m128i)a, (__m128i)b);
#else
  v4i out;
  for (int i = 0; i < 4; ++i) out[i] = int32_t{a[2 * i]} * b[2 * i] + int32_t{a[2 * i + 1]} * b[2 * i + 1];
  return out;
#endif
}

// int8 panels are (panel, ceil(d / 2), kPanel, 2): a panel's items side by side two dimensions at a
// time (an odd d is padded with a zero dimension), so an 8-byte load widened to int16 and one
// pairwise multiply-add give four items' sums over two dimensions.
inline v8s load_i8x8(const int8_t* p) {
  v8b b;
  std::memcpy(&b, p, sizeof b);
  return __builtin_convertvector(b, v8s);
}
// acc[0..4) = the 16 items' integer dot products with the user pairs (pairs[k] = q[2k] | q[2k+1] << 16).
void dot_panel_i8(const int8_t* p, const uint32_t* pairs, int64_t count, v4i* acc) {
  v4i a0 = {0, 0, 0, 0}, a1 = a0, a2 = a0, a3 = a0;
  for (int64_t k = 0; k < count; ++k, p += 32) {
    const uint32_t w = pairs[k];
    const v4u w4 = {w, w, w, w};
    v8s u;
    std::memcpy(&u, &w4, 16);
    a0 += madd16(load_i8x8(p), u);
    a1 += madd16(load_i8x8(p + 8), u);
    a2 += madd16(load_i8x8(p + 16), u);
    a3 += madd16(load_i8x8(p + 24), u);
  }
  acc[0] = a0;
  acc[1] = a1;
  acc[2] = a2;
  acc[3] = a3;
}

// Eight halves as f32 values scaled by 2^-112: sign, exponent and mantissa moved into place without
// rebasing the exponent (a normal half becomes a normal float, a subnormal one a subnormal float,
// both exact). Multiplied by a user value pre-scaled by 2^112 the product is the same real number as
// the unscaled one, so it rounds to the same float.
typedef uint16_t v8h __attribute__((vector_size(16)));
inline void f16x8_to_scaled_f32(const uint16_t* p, v4f* lo, v4f* hi) {
  v8h h;
  std::memcpy(&h, p, sizeof h);
  const v8h low = h << 13;                                             // low 16 bits of each float
  const v8h high = (v8h)(((v8s)h >> 3) & static_cast<int16_t>(0x8fff));  // sign | exponent, mantissa top
  const v8h w0 = __builtin_shufflevector(low, high, 0, 8, 1, 9, 2, 10, 3, 11);
  const v8h w1 = __builtin_shufflevector(low, high, 4, 12, 5, 13, 6, 14, 7, 15);
  std::memcpy(lo, &w0, 16);
  std::memcpy(hi, &w1, 16);
}
// score_panel for f16 panels against a user vector pre-scaled by 2^112 (same results).
void score_panel_f16(const uint16_t* p, const float* u, int64_t d, const float* bias, float* out) {
  v4f a0 = {0, 0, 0, 0}, a1 = a0, a2 = a0, a3 = a0;
  for (int64_t j = 0; j < d; ++j, p += 16) {
    const float x = u[j];
    const v4f uj = {x, x, x, x};
    v4f r0, r1, r2, r3;
    f16x8_to_scaled_f32(p, &r0, &r1);
    f16x8_to_scaled_f32(p + 8, &r2, &r3);
    a0 += r0 * uj;
    a1 += r1 * uj;
    a2 += r2 * uj;
    a3 += r3 * uj;
  }
  store_panel(a0, a1, a2, a3, bias, out);
}

// The user vector quantized to int16 (scale su = max |u| / kUserQ, floored so that u / su stays finite).
float quantize_user(const float* user, int64_t d, int16_t* q) {
  float mx = 0;
  for (int64_t j = 0; j < d; ++j) mx = std::max(mx, std::fabs(user[j]));
  const float su = std::isfinite(mx) && mx > 1e-30f ? mx / static_cast<float>(kUserQ) : 1.0f;
  for (int64_t j = 0; j < d; ++j) {
    const float v = std::nearbyint(user[j] / su);
    q[j] = static_cast<int16_t>(v > kUserQ ? kUserQ : v < -kUserQ ? -kUserQ : v == v ? v : 0.0f);
  }
  return su;
}

// PQ scores out[r] = sum_j L[j * 256 + code_j] (+ bias) of the rows item_at(r), codes (n, m): two
// chains (even, odd sub-spaces) in a fixed order, whatever M. M > 0: m == M, known at compile time.
template <int64_t M, typename ItemAt>
void pq_scan(const float* L, const uint8_t* codes, int64_t m, const float* bias, int64_t count, ItemAt item_at,
             float* out) {
  const int64_t mm = M > 0 ? M : m;
  for (int64_t r = 0; r < count; ++r) {
    const int64_t i = item_at(r);
    const uint8_t* code = codes + i * mm;
    float s0 = 0, s1 = 0;
    int64_t j = 0;
    for (; j + 2 <= mm; j += 2) {
      s0 += L[j * 256 + code[j]];
      s1 += L[(j + 1) * 256 + code[j + 1]];
    }
    if (j < mm) s0 += L[j * 256 + code[j]];
    const float s = s0 + s1;
    out[r] = bias ? s + bias[i] : s;
  }
}

// pq_scan with the usual sub-space counts unrolled at compile time (about 2x faster in wasm).
template <typename ItemAt>
void pq_scores(const float* L, const uint8_t* codes, int64_t m, const float* bias, int64_t count, ItemAt item_at,
               float* out) {
  switch (m) {
    case 8: return pq_scan<8>(L, codes, m, bias, count, item_at, out);
    case 16: return pq_scan<16>(L, codes, m, bias, count, item_at, out);
    case 32: return pq_scan<32>(L, codes, m, bias, count, item_at, out);
    case 64: return pq_scan<64>(L, codes, m, bias, count, item_at, out);
    default: return pq_scan<0>(L, codes, m, bias, count, item_at, out);
  }
}

// Groups of a PQ sub-space's centroids that ItemTable::top() bounds rows by (two byte shuffles).
constexpr int kGroups = 32;

// sums[r] = sum over j < m of q[j * kGroups + g[j * 16 + r]], r < 16, as floats (exact: m <= 257
// keeps the sums in 16 bits): a panel's group codes g (m, 16) looked up in per-sub-space tables q
// (m, kGroups) of bytes.
inline void panel_group_sums(const uint8_t* g, const uint8_t* q, int64_t m, float sums[16]) {
#if defined(__wasm_simd128__)
  v128_t lo = wasm_i16x8_splat(0), hi = lo;
  const v128_t sixteen = wasm_i8x16_splat(16);
  for (int64_t j = 0; j < m; ++j) {
    // Groups 16..31 index past the first table (its lanes 0) and, less 16, into the second.
    const v128_t gv = wasm_v128_load(g + j * 16);
    const v128_t t = wasm_v128_or(wasm_i8x16_swizzle(wasm_v128_load(q + j * kGroups), gv),
                                  wasm_i8x16_swizzle(wasm_v128_load(q + j * kGroups + 16), wasm_i8x16_sub(gv, sixteen)));
    lo = wasm_i16x8_add(lo, wasm_u16x8_extend_low_u8x16(t));
    hi = wasm_i16x8_add(hi, wasm_u16x8_extend_high_u8x16(t));
  }
  // Signed conversions (one instruction each, where the unsigned one takes several).
  wasm_v128_store(sums, wasm_f32x4_convert_i32x4(wasm_u32x4_extend_low_u16x8(lo)));
  wasm_v128_store(sums + 4, wasm_f32x4_convert_i32x4(wasm_u32x4_extend_high_u16x8(lo)));
  wasm_v128_store(sums + 8, wasm_f32x4_convert_i32x4(wasm_u32x4_extend_low_u16x8(hi)));
  wasm_v128_store(sums + 12, wasm_f32x4_convert_i32x4(wasm_u32x4_extend_high_u16x8(hi)));
#else
  int32_t s[16] = {};
  for (int64_t j = 0; j < m; ++j) {
    for (int r = 0; r < 16; ++r) s[r] += q[j * kGroups + g[j * 16 + r]];
  }
  for (int r = 0; r < 16; ++r) sums[r] = static_cast<float>(s[r]);
#endif
}

// Bit l set where lane l of m is set (m's lanes: 0 or -1).
inline uint32_t lane_mask(v4i m) {
#if defined(__wasm_simd128__)
  return static_cast<uint32_t>(wasm_i32x4_bitmask(reinterpret_cast<v128_t>(m)));
#else
  return static_cast<uint32_t>((m[0] & 1) | (m[1] & 2) | (m[2] & 4) | (m[3] & 8));
#endif
}

// xorshift64*: the fold-in's negative sampler, identical on every platform.
struct Rng {
  uint64_t s;
  explicit Rng(uint64_t seed) : s(seed ? seed : 0x9e3779b97f4a7c15ull) {}
  uint64_t next() {
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return s * 0x2545f4914f6cdd1dull;
  }
  int64_t below(int64_t n) { return static_cast<int64_t>(next() % static_cast<uint64_t>(n)); }
};

}  // namespace

// ---- portable elementwise functions -----------------------------------------------------------

float portable_exp(float x) {
  if (std::isnan(x)) return x;
  if (x > 88.7f) return std::numeric_limits<float>::infinity();
  if (x < -103.9f) return 0.0f;
  // x = k ln2 + r, |r| <= ln2 / 2 (Cody-Waite split of ln2), e^r by a degree-6 polynomial.
  const float k = std::nearbyint(x * 1.44269504088896341f);
  const float p = exp_reduced(x, k);
  const int ki = static_cast<int>(k);
  // Scale by 2^k in two halves so subnormal results and k = 128 stay exact.
  const int k1 = ki / 2, k2 = ki - k1;
  auto pow2 = [](int e) {
    const uint32_t bits = static_cast<uint32_t>(e + 127) << 23;
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
  };
  return p * pow2(k1) * pow2(k2);
}

float portable_sigmoid(float x) { return 1.0f / (1.0f + portable_exp(-x)); }

float portable_tanh(float x) {
  if (std::isnan(x)) return x;
  const float a = std::fabs(x);
  float t;
  if (a < 0.0004f) {
    t = a;  // tanh(a) = a - a^3/3: the cube is below float resolution here
  } else if (a < 0.55f) {
    const float a2 = a * a;  // odd series to a^11 (error < 1e-8 on [0, 0.55))
    float p = -0.0035921280365724811f;
    p = p * a2 + 0.0088632355299021965f;
    p = p * a2 - 0.021869488536155203f;
    p = p * a2 + 0.053968253968253971f;
    p = p * a2 - 0.13333333333333333f;
    p = p * a2 + 0.33333333333333333f;
    t = a - a * a2 * p;
  } else if (a < 9.0f) {
    t = 1.0f - 2.0f / (portable_exp(2.0f * a) + 1.0f);
  } else {
    t = 1.0f;
  }
  return x < 0 ? -t : t;
}

// ---- item table -------------------------------------------------------------------------------

Result<TablePrecision> parse_precision(const std::string& name) {
  if (name == "f32") return TablePrecision::kF32;
  if (name == "f16") return TablePrecision::kF16;
  if (name == "int8") return TablePrecision::kInt8;
  return Status::InvalidArgument("unknown item table precision '" + name + "' (f32, f16, int8)");
}

const char* precision_name(TablePrecision p) {
  switch (p) {
    case TablePrecision::kF32: return "f32";
    case TablePrecision::kF16: return "f16";
    case TablePrecision::kInt8: return "int8";
    case TablePrecision::kPQ: return "pq";
  }
  return "?";
}

namespace {

// rows (n, d) into panels of ItemTable::kPanel items, dimension-major inside a panel (the layout of
// ItemTable::at), each value through `convert`; the padding rows are left as they are.
template <typename T, typename Convert>
void to_panels(const float* rows, int64_t n, int64_t d, T* out, Convert convert) {
  constexpr int64_t kPanel = ItemTable::kPanel;
  for (int64_t p0 = 0; p0 < n; p0 += kPanel) {
    const int64_t items = std::min(kPanel, n - p0);
    T* panel = out + p0 * d;  // panel p0 / kPanel starts at (p0 / kPanel) * d * kPanel
    for (int64_t ii = 0; ii < items; ++ii) {
      const float* row = rows + (p0 + ii) * d;
      for (int64_t j = 0; j < d; ++j) panel[j * kPanel + ii] = convert(row[j]);
    }
  }
}

}  // namespace

Result<ItemTable> ItemTable::build(const float* rows, int64_t n, int64_t d, TablePrecision precision) {
  if (n < 1 || d < 1) {
    return Status::InvalidArgument("item table: need at least one item and one dimension, got (" +
                                   std::to_string(n) + ", " + std::to_string(d) + ")");
  }
  VITRINE_RETURN_IF_ERROR(check_finite_rows(rows, n, d));
  if (precision == TablePrecision::kInt8 && d > 2048) {
    return Status::InvalidArgument("item table: int8 tables hold at most 2048 dimensions (32-bit integer sums), got " +
                                   std::to_string(d));
  }
  ItemTable t;
  t.n_ = n;
  t.d_ = d;
  t.precision_ = precision;
  switch (precision) {
    case TablePrecision::kF32:
      t.f32_.assign(static_cast<size_t>(panels(n) * kPanel * d), 0.0f);
      to_panels(rows, n, d, t.f32_.data(), [](float v) { return v; });
      break;
    case TablePrecision::kF16:
      t.f16_.assign(static_cast<size_t>(panels(n) * kPanel * d), 0);
      to_panels(rows, n, d, t.f16_.data(), [](float v) { return f32_to_f16(v); });
      break;
    case TablePrecision::kInt8:
      t.i8_.assign(static_cast<size_t>(panels(n) * kPanel * ((d + 1) / 2) * 2), 0);
      t.scales_.resize(static_cast<size_t>(n));
      for (int64_t i = 0; i < n; ++i) {
        const float* r = rows + i * d;
        float mx = 0;
        for (int64_t j = 0; j < d; ++j) mx = std::max(mx, std::fabs(r[j]));
        const float scale = mx > 0 ? mx / 127.0f : 1.0f;
        t.scales_[static_cast<size_t>(i)] = scale;
        for (int64_t j = 0; j < d; ++j) {
          const float q = std::nearbyint(r[j] / scale);
          t.i8_[t.at8(i, j)] = static_cast<int8_t>(std::min(127.0f, std::max(-127.0f, q)));
        }
      }
      break;
    case TablePrecision::kPQ:
      return Status::InvalidArgument("item table: PQ tables are made by build_pq");
  }
  t.finish();
  return t;
}

Result<ItemTable> ItemTable::f32_by_rows(std::vector<float> rows, int64_t n, int64_t d) {
  // n * d compared in 64 bits (size_t is 32 bits in wasm), after ruling out its overflow.
  if (n < 1 || d < 1 || d > std::numeric_limits<int64_t>::max() / n || n * d != static_cast<int64_t>(rows.size())) {
    return Status::InvalidArgument("item table: need at least one item and one dimension, and n * d values, got (" +
                                   std::to_string(n) + ", " + std::to_string(d) + ") and " + std::to_string(rows.size()));
  }
  VITRINE_RETURN_IF_ERROR(check_finite_rows(rows.data(), n, d));
  ItemTable t;
  t.n_ = n;
  t.d_ = d;
  t.precision_ = TablePrecision::kF32;
  t.panels_ = false;
  t.f32_ = std::move(rows);
  t.finish();
  return t;
}

void ItemTable::finish() {
  norms_.resize(static_cast<size_t>(n_));
  std::vector<float> r(static_cast<size_t>(d_));
  for (int64_t i = 0; i < n_; ++i) {
    row(i, r.data());
    norms_[static_cast<size_t>(i)] = std::sqrt(dot_row(r.data(), r.data(), d_));
  }
}

namespace {

// Sub-space j of m over d dimensions: [j * d / m, (j + 1) * d / m).
inline int64_t sub_begin(int64_t j, int64_t d, int64_t m) { return j * d / m; }

inline float sq_dist(const float* a, const float* b, int64_t w) {
  float s = 0;
  for (int64_t k = 0; k < w; ++k) {
    const float t = a[k] - b[k];
    s += t * t;
  }
  return s;
}

// The nearest of `count` centroids (count x w at c) to x; ties: the lower index.
inline int nearest(const float* x, const float* c, int64_t w, int count, float* dist = nullptr) {
  int best = 0;
  float bd = std::numeric_limits<float>::infinity();
  for (int k = 0; k < count; ++k) {
    const float dk = sq_dist(x, c + k * w, w);
    if (dk < bd) {
      bd = dk;
      best = k;
    }
  }
  if (dist) *dist = bd;
  return best;
}

}  // namespace

Result<ItemTable> ItemTable::build_pq(const float* rows, int64_t n, int64_t d, int64_t m, uint32_t seed, int64_t sample,
                                      int iterations, bool half) {
  if (n < 1 || d < 1) return Status::InvalidArgument("item table: need at least one item and one dimension");
  if (m < 1 || m > d || m > 4096) {
    return Status::InvalidArgument("item table: PQ needs 1 <= m <= min(d, 4096) sub-spaces, got m = " + std::to_string(m) +
                                   " for d = " + std::to_string(d));
  }
  if (sample < 1 || iterations < 0) return Status::InvalidArgument("item table: PQ sample and iterations must be positive");
  for (int64_t i = 0; i < n * d; ++i) {
    if (!std::isfinite(rows[i])) return Status::InvalidArgument("item table: non-finite value at item " + std::to_string(i / d));
  }
  constexpr int K = 256;
  const int64_t s = std::min(n, sample);
  std::vector<float> codebook(static_cast<size_t>(K * d));
  std::vector<uint8_t> codes(static_cast<size_t>(n * m));
  for (int64_t j = 0; j < m; ++j) {
    const int64_t b = sub_begin(j, d, m), w = sub_begin(j + 1, d, m) - b;
    // The training sub-vectors: s rows spread evenly over the table.
    std::vector<float> x(static_cast<size_t>(s * w));
    for (int64_t r = 0; r < s; ++r) {
      const int64_t i = s == n ? r : r * n / s;
      std::copy(rows + i * d + b, rows + i * d + b + w, x.begin() + r * w);
    }
    float* c = codebook.data() + K * b;
    // k-means++ seeding.
    Rng rng(0x9e3779b9ull * (seed + 1) + static_cast<uint64_t>(j));
    std::vector<float> dist(static_cast<size_t>(s), std::numeric_limits<float>::infinity());
    int64_t pick = rng.below(s);
    for (int k = 0; k < K; ++k) {
      std::copy(x.begin() + pick * w, x.begin() + (pick + 1) * w, c + k * w);
      double total = 0;
      for (int64_t r = 0; r < s; ++r) {
        dist[static_cast<size_t>(r)] = std::min(dist[static_cast<size_t>(r)], sq_dist(x.data() + r * w, c + k * w, w));
        total += dist[static_cast<size_t>(r)];
      }
      if (total <= 0) {
        pick = rng.below(s);  // fewer distinct points than centroids: repeats
        continue;
      }
      double u = static_cast<double>(rng.next() >> 11) * (1.0 / 9007199254740992.0) * total;
      pick = s - 1;
      for (int64_t r = 0; r < s; ++r) {
        u -= dist[static_cast<size_t>(r)];
        if (u < 0) {
          pick = r;
          break;
        }
      }
    }
    // Lloyd iterations; an empty cluster takes the point farthest from its centroid.
    std::vector<int> assign(static_cast<size_t>(s));
    std::vector<double> sum(static_cast<size_t>(K * w));
    std::vector<int64_t> count(K);
    for (int it = 0; it < iterations; ++it) {
      std::fill(sum.begin(), sum.end(), 0.0);
      std::fill(count.begin(), count.end(), 0);
      for (int64_t r = 0; r < s; ++r) {
        const int a = nearest(x.data() + r * w, c, w, K, &dist[static_cast<size_t>(r)]);
        assign[static_cast<size_t>(r)] = a;
        ++count[a];
        for (int64_t k = 0; k < w; ++k) sum[static_cast<size_t>(a * w + k)] += x[static_cast<size_t>(r * w + k)];
      }
      for (int k = 0; k < K; ++k) {
        if (count[k] > 0) {
          for (int64_t q = 0; q < w; ++q) c[k * w + q] = static_cast<float>(sum[static_cast<size_t>(k * w + q)] / count[k]);
          continue;
        }
        const int64_t far = std::max_element(dist.begin(), dist.end()) - dist.begin();
        if (dist[static_cast<size_t>(far)] <= 0) continue;
        std::copy(x.begin() + far * w, x.begin() + (far + 1) * w, c + k * w);
        dist[static_cast<size_t>(far)] = 0;
      }
    }
    if (half) {
      for (int64_t q = 0; q < K * w; ++q) c[q] = f16_to_f32(f32_to_f16(c[q]));
    }
    for (int64_t i = 0; i < n; ++i) {
      codes[static_cast<size_t>(i * m + j)] = static_cast<uint8_t>(nearest(rows + i * d + b, c, w, K));
    }
  }
  return from_pq(n, d, m, std::move(codes), std::move(codebook));
}

Result<ItemTable> ItemTable::from_pq(int64_t n, int64_t d, int64_t m, std::vector<uint8_t> codes, std::vector<float> codebook) {
  if (n < 1 || d < 1 || m < 1 || m > d || m > 4096) return Status::InvalidArgument("item table: bad PQ dimensions");
  if (static_cast<int64_t>(codes.size()) != n * m || static_cast<int64_t>(codebook.size()) != 256 * d) {
    return Status::InvalidArgument("item table: PQ codes must be (n, m) and the codebook 256 x d values");
  }
  for (float v : codebook) if (!std::isfinite(v)) return Status::InvalidArgument("item table: non-finite PQ centroid");
  ItemTable t;
  t.n_ = n;
  t.d_ = d;
  t.precision_ = TablePrecision::kPQ;
  t.pq_m_ = m;
  t.codes_ = std::move(codes);
  t.codebook_ = std::move(codebook);
  t.finish();
  return t;
}

Result<ItemTable> ItemTable::from_int8(int64_t n, int64_t d, std::vector<int8_t> q, std::vector<float> scales) {
  if (n < 1 || d < 1 || d > 2048) return Status::InvalidArgument("item table: bad int8 dimensions");
  if (static_cast<int64_t>(q.size()) != n * d || static_cast<int64_t>(scales.size()) != n) {
    return Status::InvalidArgument("item table: int8 values must be (n, d) with one scale per row");
  }
  for (float v : scales) if (!(std::isfinite(v) && v > 0)) return Status::InvalidArgument("item table: int8 scales must be finite and > 0");
  for (int8_t v : q) if (v == -128) return Status::InvalidArgument("item table: int8 values must be in [-127, 127]");
  ItemTable t;
  t.n_ = n;
  t.d_ = d;
  t.precision_ = TablePrecision::kInt8;
  t.i8_.assign(static_cast<size_t>(panels(n) * kPanel * ((d + 1) / 2) * 2), 0);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < d; ++j) t.i8_[t.at8(i, j)] = q[static_cast<size_t>(i * d + j)];
  }
  t.scales_ = std::move(scales);
  t.finish();
  return t;
}

Result<ItemTable> ItemTable::with_rows(const float* rows, int64_t n) const {
  if (precision_ != TablePrecision::kPQ) {
    VITRINE_ASSIGN_OR_RETURN(ItemTable t, build(rows, n, d_, precision_));
    if (!panels_) t.store_by_rows();
    return t;
  }
  if (n < 1) return Status::InvalidArgument("item table: need at least one item");
  for (int64_t i = 0; i < n * d_; ++i) {
    if (!std::isfinite(rows[i])) return Status::InvalidArgument("item table: non-finite value at item " + std::to_string(i / d_));
  }
  std::vector<uint8_t> codes(static_cast<size_t>(n * pq_m_));
  for (int64_t j = 0; j < pq_m_; ++j) {
    const int64_t b = sub_begin(j, d_, pq_m_), w = sub_begin(j + 1, d_, pq_m_) - b;
    for (int64_t i = 0; i < n; ++i) {
      codes[static_cast<size_t>(i * pq_m_ + j)] = static_cast<uint8_t>(nearest(rows + i * d_ + b, codebook_.data() + 256 * b, w, 256));
    }
  }
  VITRINE_ASSIGN_OR_RETURN(ItemTable t, from_pq(n, d_, pq_m_, std::move(codes), codebook_));
  if (has_bounds()) {  // the same codebook: the same centroid groups
    t.groups_ = groups_;
    t.fill_group_codes();
  }
  return t;
}

void ItemTable::store_by_rows() {
  if (!panels_ || precision_ == TablePrecision::kPQ) return;
  std::vector<float> f32(f32_.empty() ? 0 : static_cast<size_t>(n_ * d_));
  std::vector<uint16_t> f16(f16_.empty() ? 0 : static_cast<size_t>(n_ * d_));
  std::vector<int8_t> i8(i8_.empty() ? 0 : static_cast<size_t>(n_ * d_));
  // Panel by panel (see at()): item p0 + ii, dimension j sits at (p0 * d + j) * kPanel + ii.
  for (int64_t p0 = 0; p0 < n_; p0 += kPanel) {
    const int64_t items = std::min(kPanel, n_ - p0);
    for (int64_t ii = 0; ii < items; ++ii) {
      const size_t row = static_cast<size_t>((p0 + ii) * d_);
      const size_t from = static_cast<size_t>(p0 * d_ + ii);
      if (!f32.empty()) for (int64_t j = 0; j < d_; ++j) f32[row + j] = f32_[from + j * kPanel];
      if (!f16.empty()) for (int64_t j = 0; j < d_; ++j) f16[row + j] = f16_[from + j * kPanel];
      if (!i8.empty()) for (int64_t j = 0; j < d_; ++j) i8[row + j] = i8_[at8(p0 + ii, j)];
    }
  }
  f32_ = std::move(f32);
  f16_ = std::move(f16);
  i8_ = std::move(i8);
  panels_ = false;
}

std::vector<int8_t> ItemTable::int8_values() const {
  std::vector<int8_t> v(static_cast<size_t>(i8_.empty() ? 0 : n_ * d_));
  for (size_t k = 0; k < v.size(); ++k) v[k] = i8_[at8(static_cast<int64_t>(k) / d_, static_cast<int64_t>(k) % d_)];
  return v;
}

size_t ItemTable::bytes() const {
  return f32_.size() * 4 + f16_.size() * 2 + i8_.size() + scales_.size() * 4 + codes_.size() + codebook_.size() * 4 +
         groups_.size() + gcodes_.size() + norms_.size() * 4;
}

std::vector<float> ItemTable::pq_lut(const float* user) const {
  // One lookup table per sub-space: lut[j][c] = <centroid c of sub-space j, user sub-vector j>.
  const int64_t m = pq_m_;
  std::vector<float> lut(static_cast<size_t>(m * 256));
  for (int64_t j = 0; j < m; ++j) {
    const int64_t b = sub_begin(j, d_, m), w = sub_begin(j + 1, d_, m) - b;
    const float* c = codebook_.data() + 256 * b;
    for (int k = 0; k < 256; ++k) lut[static_cast<size_t>(j * 256 + k)] = dot_row(c + k * w, user + b, w);
  }
  return lut;
}

void ItemTable::add_bounds() {
  if (precision_ != TablePrecision::kPQ || pq_m_ > 256 || has_bounds()) return;
  const int64_t m = pq_m_;
  groups_.assign(static_cast<size_t>(m * 256), 0);
  std::vector<float> centre, sum;
  for (int64_t j = 0; j < m; ++j) {
    // k-means of the sub-space's 256 centroids into kGroups groups, from centroids 0, 8, 16, ...
    const int64_t b = sub_begin(j, d_, m), w = sub_begin(j + 1, d_, m) - b;
    const float* c = codebook_.data() + 256 * b;
    uint8_t* group = groups_.data() + j * 256;
    constexpr int step = 256 / kGroups;
    centre.resize(static_cast<size_t>(kGroups * w));
    for (int g = 0; g < kGroups; ++g) std::copy(c + g * step * w, c + (g * step + 1) * w, centre.data() + g * w);
    for (int it = 0; it < 10; ++it) {
      for (int k = 0; k < 256; ++k) group[k] = static_cast<uint8_t>(nearest(c + k * w, centre.data(), w, kGroups));
      sum.assign(static_cast<size_t>(kGroups * w), 0.0f);
      int count[kGroups] = {};
      for (int k = 0; k < 256; ++k) {
        ++count[group[k]];
        for (int64_t t = 0; t < w; ++t) sum[static_cast<size_t>(group[k] * w + t)] += c[k * w + t];
      }
      for (int g = 0; g < kGroups; ++g) {
        for (int64_t t = 0; count[g] > 0 && t < w; ++t) {
          centre[static_cast<size_t>(g * w + t)] = sum[static_cast<size_t>(g * w + t)] / static_cast<float>(count[g]);
        }
      }
    }
  }
  fill_group_codes();
}

void ItemTable::fill_group_codes() {
  const int64_t m = pq_m_;
  gcodes_.assign(static_cast<size_t>(panels(n_) * m * kPanel), 0);
  for (int64_t i = 0; i < n_; ++i) {
    uint8_t* g = gcodes_.data() + (i / kPanel) * m * kPanel + i % kPanel;
    const uint8_t* code = codes_.data() + i * m;
    for (int64_t j = 0; j < m; ++j) g[j * kPanel] = groups_[static_cast<size_t>(j * 256 + code[j])];
  }
}

// Scores out[j] of the rows item_at(j), j < count: the per-call preparation (int8: the user vector
// quantized; PQ: the lookup tables) once, then one row at a time.
template <typename ItemAt>
void ItemTable::score_rows(const float* user, const float* bias, int64_t count, ItemAt item_at, float* out) const {
  if (precision_ == TablePrecision::kInt8) {
    std::vector<int16_t> q(static_cast<size_t>(d_));
    const float su = quantize_user(user, d_, q.data());
    for (int64_t r = 0; r < count; ++r) {
      const int64_t i = item_at(r);
      int32_t dot = 0;  // exact: any order gives the panel kernel's sum
      for (int64_t j = 0; j < d_; ++j) dot += int32_t{i8_[at8(i, j)]} * q[static_cast<size_t>(j)];
      const float s = static_cast<float>(dot) * (scales_[static_cast<size_t>(i)] * su);
      out[r] = bias ? s + bias[i] : s;
    }
    return;
  }
  if (precision_ == TablePrecision::kPQ) {
    const std::vector<float> lut = pq_lut(user);
    pq_scores(lut.data(), codes_.data(), pq_m_, bias, count, item_at, out);
    return;
  }
  for (int64_t r = 0; r < count; ++r) {
    const int64_t i = item_at(r);
    const int64_t stride = panels_ ? kPanel : 1;
    const float s = precision_ == TablePrecision::kF32 ? dot_lane(f32_.data() + at(i, 0), user, d_, stride)
                                                       : dot_lane(f16_.data() + at(i, 0), user, d_, stride);
    out[r] = bias ? s + bias[i] : s;
  }
}

void ItemTable::score(const float* user, const float* bias, float* out, int64_t begin, int64_t end) const {
  if (!panels_) {
    score_rows(user, bias, end - begin, [begin](int64_t r) { return begin + r; }, out);
    return;
  }
  // Whole panels with the SIMD kernels; a partial panel at either end item by item (same results).
  const int64_t head = std::min(end, (begin + kPanel - 1) / kPanel * kPanel);
  int64_t i = head;
  const int64_t d = d_;
  if (precision_ == TablePrecision::kF32) {
    for (; i + kPanel <= end; i += kPanel) score_panel(f32_.data() + at(i, 0), user, d, bias ? bias + i : nullptr, out + (i - begin));
  } else if (precision_ == TablePrecision::kF16) {
    std::vector<float> scaled(static_cast<size_t>(d));
    bool finite = true;
    for (int64_t j = 0; j < d; ++j) finite = finite && std::isfinite(scaled[static_cast<size_t>(j)] = user[j] * 5.192296858534828e33f);
    for (; finite && i + kPanel <= end; i += kPanel) {
      score_panel_f16(f16_.data() + at(i, 0), scaled.data(), d, bias ? bias + i : nullptr, out + (i - begin));
    }
  } else if (precision_ == TablePrecision::kInt8) {
    std::vector<int16_t> q(static_cast<size_t>(d));
    const float su = quantize_user(user, d, q.data());
    std::vector<uint32_t> pairs(static_cast<size_t>((d + 1) / 2));
    for (int64_t j = 0; j < d; j += 2) {
      const uint16_t hi = j + 1 < d ? static_cast<uint16_t>(q[static_cast<size_t>(j + 1)]) : 0;
      pairs[static_cast<size_t>(j / 2)] = static_cast<uint16_t>(q[static_cast<size_t>(j)]) | uint32_t{hi} << 16;
    }
    const v4f s4 = {su, su, su, su};
    for (; i + kPanel <= end; i += kPanel) {
      v4i acc[4];
      dot_panel_i8(i8_.data() + at8(i, 0), pairs.data(), static_cast<int64_t>(pairs.size()), acc);
      v4f v[4];
      for (int k = 0; k < 4; ++k) v[k] = __builtin_convertvector(acc[k], v4f) * (load4(scales_.data() + i + 4 * k) * s4);
      store_panel(v[0], v[1], v[2], v[3], bias ? bias + i : nullptr, out + (i - begin));
    }
  }
  if (i == head) {  // PQ, or no whole panel
    score_rows(user, bias, end - begin, [begin](int64_t r) { return begin + r; }, out);
    return;
  }
  score_rows(user, bias, head - begin, [begin](int64_t r) { return begin + r; }, out);
  if (i < end) score_rows(user, bias, end - i, [i](int64_t r) { return i + r; }, out + (i - begin));
}

void ItemTable::score_items(const float* user, const float* bias, const int32_t* items, int64_t count, float* out) const {
  score_rows(user, bias, count, [items](int64_t r) { return static_cast<int64_t>(items[r]); }, out);
}

void ItemTable::row(int64_t i, float* out) const {
  if (precision_ == TablePrecision::kPQ) {
    for (int64_t j = 0; j < pq_m_; ++j) {
      const int64_t b = sub_begin(j, d_, pq_m_), w = sub_begin(j + 1, d_, pq_m_) - b;
      const float* c = codebook_.data() + 256 * b + codes_[static_cast<size_t>(i * pq_m_ + j)] * w;
      std::copy(c, c + w, out + b);
    }
    return;
  }
  // Dimension j of item i is at at(i, 0) + j * step (see at()).
  const size_t first = at(i, 0), step = panels_ ? static_cast<size_t>(kPanel) : 1;
  switch (precision_) {
    case TablePrecision::kF32:
      for (int64_t j = 0; j < d_; ++j) out[j] = f32_[first + static_cast<size_t>(j) * step];
      break;
    case TablePrecision::kF16:
      for (int64_t j = 0; j < d_; ++j) out[j] = f16_to_f32(f16_[first + static_cast<size_t>(j) * step]);
      break;
    default:
      for (int64_t j = 0; j < d_; ++j) out[j] = static_cast<float>(i8_[at8(i, j)]) * scales_[static_cast<size_t>(i)];
      break;
  }
}

float ItemTable::cosine(int64_t a, int64_t b) const {
  const float na = norms_[static_cast<size_t>(a)], nb = norms_[static_cast<size_t>(b)];
  if (na == 0 || nb == 0) return 0;
  std::vector<float> ra(static_cast<size_t>(d_));
  row(a, ra.data());
  float s;
  score(ra.data(), nullptr, &s, b, b + 1);
  return s / (na * nb);
}

// ---- top-k and MMR ----------------------------------------------------------------------------

namespace {
// Heap order: the worst kept item on top (lower score, or equal score and higher index).
inline bool better(const ScoredItem& a, const ScoredItem& b) {
  return a.score > b.score || (a.score == b.score && a.item < b.item);
}
}  // namespace

namespace {
// The k best items offered so far (any order of offering gives the same set: ties go to the lower
// index), kept as a heap whose front is the worst kept item.
class TopHeap {
 public:
  explicit TopHeap(int64_t k) : k_(k) {}
  // scores[r] of item base + r for r < count; excluded (indexed by item) may be null.
  void offer(const float* scores, int64_t base, int64_t count, const uint8_t* excluded) {
    if (k_ <= 0) return;
    auto one = [&](int64_t r) {
      const float s = scores[r];
      const int64_t i = base + r;
      if (std::isnan(s) || (excluded && excluded[i])) return;
      const ScoredItem c{static_cast<int32_t>(i), s};
      if (static_cast<int64_t>(heap_.size()) < k_) {
        heap_.push_back(c);
        std::push_heap(heap_.begin(), heap_.end(), better);
      } else if (better(c, heap_.front())) {
        std::pop_heap(heap_.begin(), heap_.end(), better);
        heap_.back() = c;
        std::push_heap(heap_.begin(), heap_.end(), better);
      }
    };
    int64_t r = 0;
    for (; r < count && static_cast<int64_t>(heap_.size()) < k_; ++r) one(r);
    // Once full, only a score >= the worst kept one can enter: test 16 at a time against it.
    for (; r + 16 <= count; r += 16) {
      const float thr = heap_.front().score;
      const v4f t = {thr, thr, thr, thr};
      const v4i m = (load4(scores + r) >= t) | (load4(scores + r + 4) >= t) | (load4(scores + r + 8) >= t) |
                    (load4(scores + r + 12) >= t);
      if ((m[0] | m[1] | m[2] | m[3]) == 0) continue;
      for (int64_t j = r; j < r + 16; ++j) one(j);
    }
    for (; r < count; ++r) one(r);
  }
  bool full() const { return static_cast<int64_t>(heap_.size()) >= k_; }
  float worst() const { return heap_.front().score; }  // when full()
  // Adds another heap's items.
  void merge(const TopHeap& o) {
    for (const ScoredItem& c : o.heap_) {
      const float s = c.score;
      offer(&s, c.item, 1, nullptr);
    }
  }
  // The kept items, best first.
  std::vector<ScoredItem> take() {
    std::sort_heap(heap_.begin(), heap_.end(), better);
    return std::move(heap_);
  }

 private:
  int64_t k_;
  std::vector<ScoredItem> heap_;
};
}  // namespace

std::vector<ScoredItem> top_k(const float* scores, int64_t n, int64_t k, const uint8_t* excluded) {
  if (k <= 0 || n <= 0) return {};
  TopHeap heap(std::min(k, n));
  heap.offer(scores, 0, n, excluded);
  return heap.take();
}

namespace {

// What ItemTable::top() scans a PQ table with: lookup tables L (m, 256), codes (n, m), group codes
// (panels, m, 16), group steps q (m, kGroups); a row's bound is base + delta * (sum of q) + bias[i] +
// slack + eps * |bias[i]|.
struct PqBounds {
  const float* L;
  const uint8_t* codes;
  const uint8_t* gcodes;
  const uint8_t* q;
  const float* bias;
  const uint8_t* excluded;
  int64_t n, m;
  float base, delta, slack, eps;
};

// Offers to heap the rows of b whose bound reaches the heap's worst kept score (all rows while it
// is not full), scored exactly. M > 0: m == M, known at compile time.
template <int64_t M>
void pq_top_scan(const PqBounds& b, TopHeap& heap) {
  const int64_t m = M > 0 ? M : b.m;
  constexpr int64_t P = ItemTable::kPanel;
  float sums[P];
  const v4f base = {b.base, b.base, b.base, b.base}, delta = {b.delta, b.delta, b.delta, b.delta};
  const v4f slack = {b.slack, b.slack, b.slack, b.slack}, eps = {b.eps, b.eps, b.eps, b.eps};
  for (int64_t i0 = 0; i0 < b.n; i0 += P) {
    panel_group_sums(b.gcodes + (i0 / P) * m * P, b.q, m, sums);
    const int64_t rows = std::min(P, b.n - i0);
    uint32_t mask = (1u << rows) - 1;
    if (heap.full()) {
      const float thr = heap.worst();
      mask = 0;
      if (rows == P) {
        const v4f vt = {thr, thr, thr, thr};
        for (int c = 0; c < 4; ++c) {
          const v4f bi = b.bias ? load4(b.bias + i0 + 4 * c) : v4f{0, 0, 0, 0};
          v4u bits;
          std::memcpy(&bits, &bi, sizeof bits);
          bits &= 0x7fffffffu;
          v4f mag;
          std::memcpy(&mag, &bits, sizeof mag);
          const v4f bound = (base + delta * load4(sums + 4 * c)) + bi + (slack + eps * mag);
          mask |= lane_mask((bound >= vt) | (bound != bound)) << (4 * c);  // NaN bounds: scored (and skipped)
        }
      } else {
        for (int64_t r = 0; r < rows; ++r) {
          const float bi = b.bias ? b.bias[i0 + r] : 0.0f;
          const float bound = (b.base + b.delta * sums[r]) + bi + (b.slack + b.eps * std::fabs(bi));
          mask |= static_cast<uint32_t>(!(bound < thr)) << r;
        }
      }
    }
    while (mask) {
      const int64_t i = i0 + __builtin_ctz(mask);
      mask &= mask - 1;
      if (b.excluded && b.excluded[i]) continue;
      float s;
      pq_scan<M>(b.L, b.codes, m, b.bias, 1, [i](int64_t) { return i; }, &s);
      heap.offer(&s, i, 1, nullptr);
    }
  }
}

}  // namespace

std::vector<ScoredItem> ItemTable::top(const float* user, const float* bias, int64_t k, const uint8_t* excluded) const {
  k = std::min(k, n_);
  if (k <= 0) return {};
  TopHeap heap(k);
  std::vector<float> scores;  // every row's score, when the rows are not bounded
  if (!has_bounds()) {
    scores.resize(static_cast<size_t>(n_));
    score(user, bias, scores.data(), 0, n_);
    heap.offer(scores.data(), 0, n_, excluded);
    return heap.take();
  }
  const int64_t m = pq_m_;
  const std::vector<float> lut = pq_lut(user);
  // Per sub-space j and group g, the best score of the group's centroids (empty groups: -inf).
  std::vector<float> best(static_cast<size_t>(m * kGroups), -std::numeric_limits<float>::infinity());
  double base_sum = 0;         // sum over sub-spaces of the lowest group best
  float range = 0, absum = 0;  // widest spread of group bests; sum over sub-spaces of the largest |score|
  bool nan = false;
  std::vector<float> base(static_cast<size_t>(m));
  for (int64_t j = 0; j < m; ++j) {
    float a = 0;
    for (int c = 0; c < 256; ++c) {
      const float v = lut[static_cast<size_t>(j * 256 + c)];
      float& bg = best[static_cast<size_t>(j * kGroups + groups_[static_cast<size_t>(j * 256 + c)])];
      bg = std::max(bg, v);
      a = std::max(a, std::fabs(v));
      nan |= v != v;
    }
    float lo = std::numeric_limits<float>::infinity(), hi = -lo;
    for (int g = 0; g < kGroups; ++g) {
      const float v = best[static_cast<size_t>(j * kGroups + g)];
      if (v == -std::numeric_limits<float>::infinity()) continue;
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
    base[static_cast<size_t>(j)] = lo;
    base_sum += lo;
    range = std::max(range, hi - lo);
    absum += a;
  }
  // A user vector whose lookups are not finite or too large to bound in float: every row scored
  // (as score() does, with the lookup tables already built).
  if (nan || !std::isfinite(3 * absum + range) || !(std::fabs(base_sum) < 1e38)) {
    scores.resize(static_cast<size_t>(n_));
    pq_scores(lut.data(), codes_.data(), m, bias, n_, [](int64_t r) { return r; }, scores.data());
    heap.offer(scores.data(), 0, n_, excluded);
    return heap.take();
  }
  // Group bests as steps q = ceil((best - base) / delta), so that base + delta * q >= best; 254
  // steps, plus 1e-3 of a step for the division's rounding, keep q <= 255 (delta > 0 even when
  // the range is 0 or tiny).
  const float delta = std::max(range / 254, std::numeric_limits<float>::min());
  std::vector<uint8_t> q(static_cast<size_t>(m * kGroups), 0);
  for (int64_t j = 0; j < m; ++j) {
    for (int g = 0; g < kGroups; ++g) {
      const float v = best[static_cast<size_t>(j * kGroups + g)];
      if (v == -std::numeric_limits<float>::infinity()) continue;
      const float steps = std::ceil((v - base[static_cast<size_t>(j)]) / delta + 1e-3f);
      q[static_cast<size_t>(j * kGroups + g)] = static_cast<uint8_t>(std::min(255.0f, steps));
    }
  }
  // A row's score (its m lookups summed in float, plus its bias) is at most base_sum + delta * (sum
  // of its q) + bias, up to the float rounding on either side: the score's sum rounds by at most
  // (m/2 + 1) units in the last place of absum + |bias|, the bound's few operations by a few units
  // of their magnitudes (at most about 5 * absum + |bias|); slack = 3 * eps * absum + eps * |bias|
  // with eps = 2m + 16 float epsilons covers both with room to spare, plus 1e-30 for subnormals.
  const float eps = static_cast<float>(2 * m + 16) * std::numeric_limits<float>::epsilon();
  const PqBounds pb{lut.data(), codes_.data(), gcodes_.data(), q.data(), bias, excluded, n_, m,
                    static_cast<float>(base_sum), delta, eps * 3 * absum + 1e-30f, eps};
  switch (m) {
    case 8: pq_top_scan<8>(pb, heap); break;
    case 16: pq_top_scan<16>(pb, heap); break;
    case 32: pq_top_scan<32>(pb, heap); break;
    case 64: pq_top_scan<64>(pb, heap); break;
    default: pq_top_scan<0>(pb, heap); break;
  }
  return heap.take();
}

std::vector<ScoredItem> mmr(const std::vector<ScoredItem>& candidates, const ItemTable& table, int64_t k,
                            double diversity) {
  const int64_t c = static_cast<int64_t>(candidates.size());
  k = std::min(k, c);
  if (k <= 0) return {};
  if (diversity <= 0) return std::vector<ScoredItem>(candidates.begin(), candidates.begin() + k);
  const int64_t d = table.dim();
  float lo = candidates[0].score, hi = lo;
  for (const ScoredItem& s : candidates) lo = std::min(lo, s.score), hi = std::max(hi, s.score);
  const float span = hi > lo ? hi - lo : 1.0f;
  // Unit-norm candidate rows, (c, d).
  std::vector<float> unit(static_cast<size_t>(c * d));
  for (int64_t a = 0; a < c; ++a) {
    float* r = unit.data() + a * d;
    table.row(candidates[static_cast<size_t>(a)].item, r);
    const float nrm = table.norm(candidates[static_cast<size_t>(a)].item);
    for (int64_t j = 0; j < d; ++j) r[j] = nrm > 0 ? r[j] / nrm : 0.0f;
  }
  std::vector<float> max_sim(static_cast<size_t>(c), -std::numeric_limits<float>::infinity());
  std::vector<uint8_t> taken(static_cast<size_t>(c), 0);
  std::vector<ScoredItem> out;
  const float lam = static_cast<float>(std::min(1.0, diversity));
  for (int64_t step = 0; step < k; ++step) {
    int64_t best = -1;
    float best_value = 0;
    for (int64_t a = 0; a < c; ++a) {
      if (taken[static_cast<size_t>(a)]) continue;
      const float rel = (candidates[static_cast<size_t>(a)].score - lo) / span;
      const float sim = step == 0 ? 0.0f : max_sim[static_cast<size_t>(a)];
      const float value = (1 - lam) * rel - lam * sim;
      if (best < 0 || value > best_value) best = a, best_value = value;
    }
    taken[static_cast<size_t>(best)] = 1;
    out.push_back(candidates[static_cast<size_t>(best)]);
    const float* rb = unit.data() + best * d;
    for (int64_t a = 0; a < c; ++a) {
      if (taken[static_cast<size_t>(a)]) continue;
      const float s = dot_row(unit.data() + a * d, rb, d);
      max_sim[static_cast<size_t>(a)] = std::max(max_sim[static_cast<size_t>(a)], s);
    }
  }
  return out;
}

// ---- models -----------------------------------------------------------------------------------

namespace {

Result<Tensor> constant(const Graph& g, const std::string& name, const std::vector<int64_t>& dims) {
  Result<int> v = g.find(name);
  if (!v.ok()) return Status::DataLoss("recommender model: missing constant '" + name + "'");
  const GraphValue& gv = g.value(v.value());
  if (gv.constant.empty()) return Status::DataLoss("recommender model: '" + name + "' is not a constant");
  const Tensor& t = gv.constant;
  const std::vector<int64_t> have = t.shape().to_vector();
  bool ok = have.size() == dims.size();
  for (size_t i = 0; ok && i < dims.size(); ++i) ok = dims[i] < 0 || dims[i] == have[i];
  if (!ok) {
    std::string want = "(";
    for (size_t i = 0; i < dims.size(); ++i) want += (i ? ", " : "") + (dims[i] < 0 ? std::string("?") : std::to_string(dims[i]));
    return Status::DataLoss("recommender model: constant '" + name + "' has shape " + t.shape().to_string() +
                            ", expected " + want + ")");
  }
  if (const int64_t i = first_non_finite(t.data(), t.num_elements()); i >= 0) {
    return Status::DataLoss("recommender model: constant '" + name + "' holds a non-finite value at " + std::to_string(i));
  }
  return t;
}

std::vector<float> transposed(const Tensor& t) {  // (r, c) -> (c, r), in 32 x 32 tiles
  const int64_t r = t.shape()[0], c = t.shape()[1];
  const float* in = t.data();
  std::vector<float> out(static_cast<size_t>(r * c));
  float* o = out.data();
  constexpr int64_t kTile = 32;
  for (int64_t i0 = 0; i0 < r; i0 += kTile) {
    const int64_t i1 = std::min(r, i0 + kTile);
    for (int64_t j0 = 0; j0 < c; j0 += kTile) {
      const int64_t j1 = std::min(c, j0 + kTile);
      for (int64_t i = i0; i < i1; ++i)
        for (int64_t j = j0; j < j1; ++j) o[j * r + i] = in[i * c + j];
    }
  }
  return out;
}

// y (n) += x (m) · W (m, n), row by row in index order.
void add_vec_mat(const float* x, const float* w, int64_t m, int64_t n, float* y) {
  for (int64_t i = 0; i < m; ++i) {
    const float xi = x[i];
    const float* row = w + i * n;
    for (int64_t j = 0; j < n; ++j) y[j] += xi * row[j];
  }
}

}  // namespace

Result<std::unique_ptr<RecModel>> RecModel::from_metadata(const std::string& json) {
  Result<Json> meta = parse_json(json);
  if (!meta.ok()) return Status::DataLoss("recommender metadata: " + meta.status().message());
  const JsonRef root(meta.value(), "recommender");
  std::unique_ptr<RecModel> m(new RecModel());
  m->meta_json_ = json;
  VITRINE_ASSIGN_OR_RETURN(m->kind_, root["kind"].as_string());
  VITRINE_ASSIGN_OR_RETURN(const Json::Array* items, root["items"].as_array());
  for (size_t i = 0; i < items->size(); ++i) {
    VITRINE_ASSIGN_OR_RETURN(std::string id, root["items"][i].as_string());
    if (!m->index_.emplace(id, static_cast<int32_t>(i)).second) {
      return Status::DataLoss("recommender metadata: item id '" + id + "' appears twice");
    }
    m->item_ids_.push_back(std::move(id));
  }
  if (m->item_ids_.empty()) return Status::DataLoss("recommender metadata: no items");
  if (m->item_ids_.size() > static_cast<size_t>(INT32_MAX)) return Status::DataLoss("recommender metadata: too many items");
  if (m->kind_ == "mf-bpr") {
    const JsonRef f = root["fold_in"];
    VITRINE_ASSIGN_OR_RETURN(m->mf_epochs_, f["epochs"].as_int());
    VITRINE_ASSIGN_OR_RETURN(m->mf_lr_, f["lr"].as_number());
    VITRINE_ASSIGN_OR_RETURN(m->mf_l2_, f["l2"].as_number());
    VITRINE_ASSIGN_OR_RETURN(m->mf_negatives_, f["negatives"].int_or(1));
    if (m->mf_epochs_ < 0 || m->mf_epochs_ > 10000 || m->mf_negatives_ < 1 || m->mf_negatives_ > 1000 ||
        !(m->mf_lr_ >= 0) || !(m->mf_l2_ >= 0)) {
      return Status::DataLoss("recommender metadata: fold_in settings out of range");
    }
  } else if (m->kind_ == "blend") {
    const JsonRef b = root["blend"];
    VITRINE_ASSIGN_OR_RETURN(m->blend_linear_dim_, b["linear_dim"].as_int());
    VITRINE_ASSIGN_OR_RETURN(m->blend_w_[0], b["weights"][0].as_number());
    VITRINE_ASSIGN_OR_RETURN(m->blend_w_[1], b["weights"][1].as_number());
    if (m->blend_linear_dim_ < 1 || m->blend_linear_dim_ > (int64_t{1} << 20) || !(m->blend_w_[0] >= 0) ||
        !(m->blend_w_[1] >= 0) || m->blend_w_[0] > 1e30 || m->blend_w_[1] > 1e30 || m->blend_w_[0] + m->blend_w_[1] <= 0) {
      return Status::DataLoss("recommender metadata: blend settings out of range");
    }
  } else if (m->kind_ != "mult-dae" && m->kind_ != "gru4rec" && m->kind_ != "linear" && m->kind_ != "table") {
    return Status::Unimplemented("recommender kind '" + m->kind_ + "' (known: mult-dae, mf-bpr, gru4rec, linear, blend)");
  }
  return m;
}

Result<std::unique_ptr<RecModel>> RecModel::create(const LoadedModel& model, TablePrecision precision) {
  if (!model.graph) return Status::InvalidArgument("recommender: no model");
  VITRINE_RETURN_IF_ERROR(require_f32(*model.graph, "recommender"));
  auto it = model.metadata.find("recommender");
  if (it == model.metadata.end()) {
    return Status::InvalidArgument("not a recommender model: the model file has no \"recommender\" metadata");
  }
  VITRINE_ASSIGN_OR_RETURN(std::unique_ptr<RecModel> m, from_metadata(it->second));
  const int64_t n = static_cast<int64_t>(m->item_ids_.size());
  const Graph& g = *model.graph;
  Tensor rows, bias;
  if (m->kind_ == "mult-dae") {
    VITRINE_ASSIGN_OR_RETURN(Tensor enc_w, constant(g, "enc.w", {-1, n}));
    const int64_t h = enc_w.shape()[0];
    VITRINE_ASSIGN_OR_RETURN(Tensor enc_b, constant(g, "enc.b", {h}));
    VITRINE_ASSIGN_OR_RETURN(rows, constant(g, "dec.w", {n, h}));
    VITRINE_ASSIGN_OR_RETURN(bias, constant(g, "dec.b", {n}));
    VITRINE_ASSIGN_OR_RETURN(m->fold_, ItemTable::f32_by_rows(transposed(enc_w), n, h));  // read a row at a time
    m->enc_b_.assign(enc_b.data(), enc_b.data() + h);
  } else if (m->kind_ == "mf-bpr") {
    VITRINE_ASSIGN_OR_RETURN(rows, constant(g, "item.emb", {n, -1}));
    VITRINE_ASSIGN_OR_RETURN(bias, constant(g, "item.bias", {n}));
    if (g.find("user.mean").ok()) {
      VITRINE_ASSIGN_OR_RETURN(Tensor mean, constant(g, "user.mean", {rows.shape()[1]}));
      m->mf_user_mean_.assign(mean.data(), mean.data() + mean.num_elements());
    }
  } else if (m->kind_ == "gru4rec") {
    VITRINE_ASSIGN_OR_RETURN(Tensor emb, constant(g, "item.emb", {n, -1}));
    const int64_t e = emb.shape()[1];
    VITRINE_ASSIGN_OR_RETURN(Tensor w_hh, constant(g, "gru.w_hh", {-1, -1}));
    const int64_t h = w_hh.shape()[1];
    if (w_hh.shape()[0] != 3 * h) return Status::DataLoss("recommender model: gru.w_hh must be (3H, H)");
    VITRINE_ASSIGN_OR_RETURN(Tensor w_ih, constant(g, "gru.w_ih", {3 * h, e}));
    VITRINE_ASSIGN_OR_RETURN(Tensor b_ih, constant(g, "gru.b_ih", {3 * h}));
    VITRINE_ASSIGN_OR_RETURN(Tensor b_hh, constant(g, "gru.b_hh", {3 * h}));
    VITRINE_ASSIGN_OR_RETURN(rows, constant(g, "out.w", {n, h}));
    VITRINE_ASSIGN_OR_RETURN(bias, constant(g, "out.b", {n}));
    VITRINE_ASSIGN_OR_RETURN(m->fold_, ItemTable::f32_by_rows(std::vector<float>(emb.data(), emb.data() + n * e), n, e));  // by rows
    m->w_ih_t_ = transposed(w_ih);
    m->w_hh_t_ = transposed(w_hh);
    m->b_ih_.assign(b_ih.data(), b_ih.data() + 3 * h);
    m->b_hh_.assign(b_hh.data(), b_hh.data() + 3 * h);
    m->emb_dim_ = e;
    m->hidden_ = h;
  } else if (m->kind_ == "linear") {
    VITRINE_ASSIGN_OR_RETURN(rows, constant(g, "dec.w", {n, -1}));
    VITRINE_ASSIGN_OR_RETURN(bias, constant(g, "dec.b", {n}));
    VITRINE_ASSIGN_OR_RETURN(Tensor scale, constant(g, "fold.scale", {n}));
    VITRINE_ASSIGN_OR_RETURN(m->fold_, ItemTable::f32_by_rows(std::vector<float>(scale.data(), scale.data() + n), n, 1));
  } else if (m->kind_ == "blend") {
    return Status::InvalidArgument("a blend recommender lives in compact files only (vitrine-recommend blend)");
  } else {
    return Status::Unimplemented("recommender kind '" + m->kind_ + "' (known: mult-dae, mf-bpr, gru4rec, linear)");
  }
  VITRINE_ASSIGN_OR_RETURN(m->table_, ItemTable::build(rows.data(), n, rows.shape()[1], precision));
  m->bias_.assign(bias.data(), bias.data() + n);
  return m;
}

// ---- content (cold start) -----------------------------------------------------------------------

Result<std::vector<ItemContent>> parse_item_content(const JsonRef& j) {
  const Json* root = j.get();
  if (root != nullptr && root->is_object()) {
    const Json* items = root->find("items");
    root = items;
  }
  if (root == nullptr || !root->is_array()) {
    return Status::InvalidArgument("item content must be an array of { id, title?, description?, categories?, year? }");
  }
  std::vector<ItemContent> out;
  out.reserve(root->size());
  for (size_t i = 0; i < root->size(); ++i) {
    const Json& e = root->array_items()[i];
    const std::string where = "item content entry " + std::to_string(i);
    const Json* id = e.find("id");
    if (id == nullptr || !id->is_string() || id->string_value().empty()) return Status::InvalidArgument(where + ": needs a non-empty string id");
    ItemContent c;
    c.id = id->string_value();
    for (const char* key : {"title", "description"}) {
      const Json* v = e.find(key);
      if (v == nullptr || v->is_null()) continue;
      if (!v->is_string()) return Status::InvalidArgument(where + " ('" + c.id + "'): " + key + " must be a string");
      (std::string(key) == "title" ? c.title : c.description) = v->string_value();
    }
    if (const Json* cats = e.find("categories"); cats != nullptr && !cats->is_null()) {
      if (!cats->is_array()) return Status::InvalidArgument(where + " ('" + c.id + "'): categories must be an array of strings");
      for (const Json& x : cats->array_items()) {
        if (!x.is_string()) return Status::InvalidArgument(where + " ('" + c.id + "'): categories must be strings");
        c.categories.push_back(x.string_value());
      }
    }
    if (const Json* y = e.find("year"); y != nullptr && !y->is_null()) {
      if (!y->is_number() || !std::isfinite(y->number_value()) || std::fabs(y->number_value()) > 1e6) {
        return Status::InvalidArgument(where + " ('" + c.id + "'): year must be a number");
      }
      c.year = y->number_value();
    }
    out.push_back(std::move(c));
  }
  return out;
}

std::vector<std::pair<int32_t, float>> ContentMap::features(const ItemContent& item) const {
  std::vector<std::pair<int32_t, float>> f;
  auto bucket = [&](const std::string& key) {
    uint32_t h = 2166136261u;
    for (unsigned char c : key) h = (h ^ c) * 16777619u;
    return static_cast<int32_t>(h % static_cast<uint32_t>(buckets_));
  };
  auto group = [&](const std::vector<std::string>& keys) {
    if (keys.empty()) return;
    const float v = 1.0f / std::sqrt(static_cast<float>(keys.size()));
    for (const std::string& k : keys) f.emplace_back(bucket(k), v);
  };
  // The title's first 32 words and the description's first 48: the fit costs the square of an
  // item's feature count, and the opening words carry most of what a product is.
  std::vector<std::string> words;
  size_t title_words = 0;
  for (const auto& [text, cap] : {std::pair<const std::string*, size_t>{&item.title, 32}, {&item.description, 48}}) {
    if (text == &item.description) title_words = words.size();
    size_t taken = 0;
    for (const Token& t : tokenize(*text, 1 << 12).tokens) {
      if (taken == cap) break;
      if (t.kind != TokenKind::kPunct) {
        words.push_back("t:" + t.text);
        ++taken;
      }
    }
  }
  group(words);
  // The first 16 distinct categories.
  std::vector<std::string> cats;
  for (const std::string& c : item.categories) {
    if (cats.size() == 16) break;
    std::string lower;
    for (const Token& t : tokenize(c, 1024).tokens) lower += (lower.empty() ? "" : " ") + t.text;
    if (!lower.empty() && std::find(cats.begin(), cats.end(), "c:" + lower) == cats.end()) cats.push_back("c:" + lower);
  }
  group(cats);
  // Pairs of categories (genre combinations a linear map cannot form from single ones).
  std::sort(cats.begin(), cats.end());
  std::vector<std::string> pairs;
  for (size_t a = 0; a < cats.size(); ++a) {
    for (size_t b = a + 1; b < cats.size(); ++b) pairs.push_back("cc:" + cats[a] + "|" + cats[b]);
  }
  group(pairs);
  if (std::isfinite(item.year)) {
    const long long y = static_cast<long long>(std::floor(item.year));
    group({"y10:" + std::to_string(y / 10), "y5:" + std::to_string(y / 5), "y1:" + std::to_string(y)});
  }
  std::vector<std::string> bigrams;  // adjacent words of one field ("star wars", "part ii")
  for (size_t a = 0; a + 1 < words.size(); ++a) {
    if (a + 1 != title_words) bigrams.push_back("b:" + words[a].substr(2) + " " + words[a + 1].substr(2));
  }
  group(bigrams);
  f.emplace_back(static_cast<int32_t>(buckets_), 1.0f);  // the constant
  return f;
}

void ContentMap::predict(const ItemContent& item, float* out) const {
  std::fill(out, out + outputs_, 0.0f);
  for (const auto& [b, v] : features(item)) {
    const float* row = w_.data() + static_cast<int64_t>(b) * outputs_;
    for (int64_t k = 0; k < outputs_; ++k) out[k] += v * row[k];
  }
}

Result<ContentMap> ContentMap::from_weights(int64_t buckets, int64_t outputs, std::vector<float> w, double lambda) {
  if (buckets < 1 || buckets > (1 << 20) || outputs < 1 || outputs > (1 << 16)) {
    return Status::InvalidArgument("content map: buckets must be in [1, 2^20] and outputs in [1, 2^16]");
  }
  if (static_cast<int64_t>(w.size()) != (buckets + 1) * outputs) return Status::InvalidArgument("content map: weights must be (buckets + 1) x outputs");
  for (float v : w) if (!std::isfinite(v)) return Status::InvalidArgument("content map: non-finite weight");
  ContentMap m;
  m.buckets_ = buckets;
  m.outputs_ = outputs;
  m.lambda_ = lambda;
  m.w_ = std::move(w);
  return m;
}

namespace {

// Solves (X^T X + lambda I') W = X^T Y for W (the constant feature, last, is not penalized) with
// a Cholesky factorization; X sparse (rows of (index, value)), Y dense (rows x p).
Status ridge(const std::vector<std::vector<std::pair<int32_t, float>>>& x, const std::vector<size_t>& rows, const float* y,
             int64_t p, int64_t dim, double lambda, std::vector<float>* w) {
  std::vector<double> a(static_cast<size_t>(dim * dim), 0.0), b(static_cast<size_t>(dim * p), 0.0);
  for (size_t r : rows) {
    const auto& f = x[r];
    for (const auto& [i, vi] : f) {
      for (const auto& [j, vj] : f) a[static_cast<size_t>(i) * dim + j] += static_cast<double>(vi) * vj;
      double* bi = b.data() + static_cast<int64_t>(i) * p;
      const float* yr = y + static_cast<int64_t>(r) * p;
      for (int64_t k = 0; k < p; ++k) bi[k] += static_cast<double>(vi) * yr[k];
    }
  }
  for (int64_t i = 0; i + 1 < dim; ++i) a[static_cast<size_t>(i * dim + i)] += lambda;
  a[static_cast<size_t>((dim - 1) * dim + dim - 1)] += 1e-6;  // keeps the constant's pivot positive
  // In-place Cholesky: lower triangle L with A = L L^T.
  for (int64_t j = 0; j < dim; ++j) {
    double* aj = a.data() + j * dim;
    double d = aj[j];
    for (int64_t k = 0; k < j; ++k) d -= aj[k] * aj[k];
    if (!(d > 0)) return Status::Internal("content map: the ridge system is not positive definite");
    const double l = std::sqrt(d);
    aj[j] = l;
    for (int64_t i = j + 1; i < dim; ++i) {
      double* ai = a.data() + i * dim;
      double v = ai[j];
      for (int64_t k = 0; k < j; ++k) v -= ai[k] * aj[k];
      ai[j] = v / l;
    }
  }
  // Forward then backward substitution, all p right-hand sides at once.
  for (int64_t i = 0; i < dim; ++i) {
    double* bi = b.data() + i * p;
    for (int64_t k = 0; k < i; ++k) {
      const double l = a[static_cast<size_t>(i * dim + k)];
      if (l == 0) continue;
      const double* bk = b.data() + k * p;
      for (int64_t q = 0; q < p; ++q) bi[q] -= l * bk[q];
    }
    const double l = a[static_cast<size_t>(i * dim + i)];
    for (int64_t q = 0; q < p; ++q) bi[q] /= l;
  }
  for (int64_t i = dim - 1; i >= 0; --i) {
    double* bi = b.data() + i * p;
    for (int64_t k = i + 1; k < dim; ++k) {
      const double l = a[static_cast<size_t>(k * dim + i)];
      if (l == 0) continue;
      const double* bk = b.data() + k * p;
      for (int64_t q = 0; q < p; ++q) bi[q] -= l * bk[q];
    }
    const double l = a[static_cast<size_t>(i * dim + i)];
    for (int64_t q = 0; q < p; ++q) bi[q] /= l;
  }
  w->resize(b.size());
  for (size_t i = 0; i < b.size(); ++i) (*w)[i] = static_cast<float>(b[i]);
  return Status::Ok();
}

}  // namespace

Result<ContentMap> ContentMap::fit(const std::vector<ItemContent>& items, const float* y, int64_t outputs, int64_t buckets,
                                   double lambda) {
  // The ridge system is dense ((buckets + 1)^2 doubles, a cubic factorization): 4096 buckets is
  // 134 MB and ~2e10 operations, the most a fit on a store's machine should take.
  if (buckets < 1 || buckets > 4096) return Status::InvalidArgument("content map: buckets must be in [1, 4096]");
  if (outputs < 1) return Status::InvalidArgument("content map: no outputs");
  if (items.size() < 20) return Status::InvalidArgument("content map: needs at least 20 items with content, got " + std::to_string(items.size()));
  if (!(lambda >= 0) || !std::isfinite(lambda)) return Status::InvalidArgument("content map: lambda must be >= 0");
  for (int64_t i = 0; i < static_cast<int64_t>(items.size()) * outputs; ++i) {
    if (!std::isfinite(y[i])) return Status::InvalidArgument("content map: non-finite target");
  }
  ContentMap m;
  m.buckets_ = buckets;
  m.outputs_ = outputs;
  std::vector<std::vector<std::pair<int32_t, float>>> x;
  x.reserve(items.size());
  for (const ItemContent& it : items) x.push_back(m.features(it));
  const int64_t dim = buckets + 1;
  if (lambda == 0) {
    std::vector<size_t> fit_rows, held;
    for (size_t r = 0; r < items.size(); ++r) (r % 10 == 9 ? held : fit_rows).push_back(r);
    double best = std::numeric_limits<double>::infinity();
    for (double l : {1.0, 3.0, 10.0, 30.0, 100.0}) {
      std::vector<float> w;
      VITRINE_RETURN_IF_ERROR(ridge(x, fit_rows, y, outputs, dim, l, &w));
      m.w_ = std::move(w);
      double err = 0;
      std::vector<float> pred(static_cast<size_t>(outputs));
      for (size_t r : held) {
        m.predict(items[r], pred.data());
        for (int64_t k = 0; k < outputs; ++k) {
          const double e = pred[static_cast<size_t>(k)] - y[static_cast<int64_t>(r) * outputs + k];
          err += e * e;
        }
      }
      if (err < best) {
        best = err;
        lambda = l;
      }
    }
  }
  std::vector<size_t> all(items.size());
  std::iota(all.begin(), all.end(), size_t{0});
  VITRINE_RETURN_IF_ERROR(ridge(x, all, y, outputs, dim, lambda, &m.w_));
  m.lambda_ = lambda;
  return m;
}

Status RecModel::fit_content(const std::vector<ItemContent>& catalogue, int64_t buckets, double lambda) {
  const int64_t d = dim(), f = fold_dim(), p = d + 1 + f;
  std::vector<ItemContent> items;
  std::vector<float> y;
  std::vector<float> row(static_cast<size_t>(d)), fr(static_cast<size_t>(f));
  std::unordered_map<std::string, int> seen;
  for (const ItemContent& c : catalogue) {
    Result<int32_t> i = find_item(c.id);
    if (!i.ok() || !seen.emplace(c.id, 1).second) continue;
    float b;
    item_params(i.value(), row.data(), &b, fr.data());
    items.push_back(c);
    y.insert(y.end(), row.begin(), row.end());
    y.push_back(b);
    y.insert(y.end(), fr.begin(), fr.end());
  }
  VITRINE_ASSIGN_OR_RETURN(ContentMap m, ContentMap::fit(items, y.data(), p, buckets, lambda));
  content_ = std::make_shared<const ContentMap>(std::move(m));
  return Status::Ok();
}

Status RecModel::add_items(const std::vector<ItemContent>& items) {
  if (!content_) {
    return Status::FailedPrecondition(content_refused_.empty() ? "this model has no content map: new items need one (vitrine compact --catalog)"
                                                               : "this model cannot place new items: " + content_refused_);
  }
  const int64_t d = dim(), f = fold_dim();
  if (content_->outputs() != d + 1 + f) return Status::FailedPrecondition("the content map does not fit this model's dimensions");
  ItemDelta delta;
  std::unordered_map<std::string, int> seen;
  std::vector<float> out(static_cast<size_t>(d + 1 + f));
  for (const ItemContent& c : items) {
    if (c.id.empty()) return Status::InvalidArgument("new items need a non-empty id");
    if (find_item(c.id).ok()) return Status::InvalidArgument("item '" + c.id + "' is already in the model (change trained items with a delta)");
    if (!seen.emplace(c.id, 1).second) return Status::InvalidArgument("item '" + c.id + "' is listed twice");
    content_->predict(c, out.data());
    delta.upsert.push_back(c.id);
    delta.rows.insert(delta.rows.end(), out.begin(), out.begin() + d);
    delta.bias.push_back(out[static_cast<size_t>(d)]);
    delta.fold.insert(delta.fold.end(), out.begin() + d + 1, out.end());
  }
  if (items.empty()) return Status::Ok();
  seal_item_delta(*this, &delta);
  return apply_delta(delta);
}

// ---- compact files ------------------------------------------------------------------------------

namespace {

const char* storage_name(TablePrecision p) {
  return p == TablePrecision::kInt8 ? "int8" : p == TablePrecision::kPQ ? "pq" : "float";
}

Result<Tensor> f32_tensor(std::vector<int64_t> dims, const float* v, size_t count) {
  VITRINE_ASSIGN_OR_RETURN(Shape shape, Shape::make(dims));
  return Tensor::from_values(shape, v, count);
}

// One item table into the tensor list (T, or T.q + T.scale, or T.codes + T.codebook).
Status add_table(const std::string& name, const ItemTable& src, TablePrecision storage, int64_t m, bool half, uint32_t seed,
                 std::vector<std::pair<std::string, Tensor>>* out) {
  const int64_t n = src.size(), d = src.dim();
  std::vector<float> rows(static_cast<size_t>(n * d));
  for (int64_t i = 0; i < n; ++i) src.row(i, rows.data() + i * d);
  if (storage == TablePrecision::kPQ) {
    ItemTable t;
    if (src.precision() == TablePrecision::kPQ && src.pq_m() == m) {
      t = src;  // already coded: keep the codes (no second quantization)
    } else {
      VITRINE_ASSIGN_OR_RETURN(t, ItemTable::build_pq(rows.data(), n, d, m, seed, 16384, 20, half));
    }
    VITRINE_ASSIGN_OR_RETURN(Tensor codes, Tensor::from_bytes(Shape{n, m}, DType::kU8, t.pq_codes().data(), t.pq_codes().size()));
    VITRINE_ASSIGN_OR_RETURN(Tensor book, f32_tensor({256 * d}, t.pq_codebook().data(), t.pq_codebook().size()));
    out->emplace_back(name + ".codes", std::move(codes));
    out->emplace_back(name + ".codebook", std::move(book));
  } else if (storage == TablePrecision::kInt8) {
    ItemTable t;
    if (src.precision() == TablePrecision::kInt8) {
      t = src;
    } else {
      VITRINE_ASSIGN_OR_RETURN(t, ItemTable::build(rows.data(), n, d, TablePrecision::kInt8));
    }
    const std::vector<int8_t> values = t.int8_values();
    VITRINE_ASSIGN_OR_RETURN(Tensor q, Tensor::from_bytes(Shape{n, d}, DType::kI8, values.data(), values.size()));
    VITRINE_ASSIGN_OR_RETURN(Tensor scale, f32_tensor({n}, t.int8_scales().data(), t.int8_scales().size()));
    out->emplace_back(name + ".q", std::move(q));
    out->emplace_back(name + ".scale", std::move(scale));
  } else {
    VITRINE_ASSIGN_OR_RETURN(Tensor t, f32_tensor({n, d}, rows.data(), rows.size()));
    out->emplace_back(name, std::move(t));
  }
  return Status::Ok();
}

// A table read back: its storage from the metadata, shapes checked against n (and d when known).
Result<ItemTable> read_table(const SafetensorsFile& f, const std::string& name, const std::string& storage, int64_t m, int64_t n,
                             TablePrecision precision) {
  auto bad = [&](const std::string& why) { return Status::DataLoss("compact recommender: " + name + ": " + why); };
  if (storage == "pq") {
    Result<Tensor> codes = f.typed_tensor(name + ".codes");
    Result<Tensor> book = f.tensor(name + ".codebook");
    if (!codes.ok()) return bad(codes.status().message());
    if (!book.ok()) return bad(book.status().message());
    if (codes->dtype() != DType::kU8 || codes->shape().rank() != 2 || codes->shape()[0] != n || codes->shape()[1] != m) {
      return bad("codes must be u8 (items, m)");
    }
    if (book->shape().rank() != 1 || book->num_elements() % 256 != 0) return bad("codebook must hold 256 x d values");
    const int64_t d = book->num_elements() / 256;
    std::vector<uint8_t> c(codes->data_as<uint8_t>(), codes->data_as<uint8_t>() + codes->num_elements());
    std::vector<float> b(book->data(), book->data() + book->num_elements());
    Result<ItemTable> t = ItemTable::from_pq(n, d, m, std::move(c), std::move(b));
    if (!t.ok()) return bad(t.status().message());
    return t;
  }
  if (storage == "int8") {
    Result<Tensor> q = f.typed_tensor(name + ".q");
    Result<Tensor> scale = f.tensor(name + ".scale");
    if (!q.ok()) return bad(q.status().message());
    if (!scale.ok()) return bad(scale.status().message());
    if (q->dtype() != DType::kI8 || q->shape().rank() != 2 || q->shape()[0] != n) return bad("values must be i8 (items, d)");
    if (scale->shape().rank() != 1 || scale->shape()[0] != n) return bad("scale must be (items)");
    std::vector<int8_t> v(q->data_as<int8_t>(), q->data_as<int8_t>() + q->num_elements());
    std::vector<float> sc(scale->data(), scale->data() + n);
    Result<ItemTable> t = ItemTable::from_int8(n, q->shape()[1], std::move(v), std::move(sc));
    if (!t.ok()) return bad(t.status().message());
    return t;
  }
  if (storage != "float") return bad("unknown storage '" + storage + "'");
  Result<Tensor> rows = f.tensor(name);
  if (!rows.ok()) return bad(rows.status().message());
  if (rows->shape().rank() != 2 || rows->shape()[0] != n) return bad("must be (items, d)");
  Result<ItemTable> t = ItemTable::build(rows->data(), n, rows->shape()[1], precision);
  if (!t.ok()) return bad(t.status().message());
  return t;
}

Result<std::vector<float>> read_vector(const SafetensorsFile& f, const std::string& name, std::vector<int64_t> dims) {
  Result<Tensor> t = f.tensor(name);
  if (!t.ok()) return Status::DataLoss("compact recommender: " + name + ": " + t.status().message());
  bool ok = t->shape().rank() == static_cast<int>(dims.size());
  for (size_t k = 0; ok && k < dims.size(); ++k) ok = t->shape()[static_cast<int>(k)] == dims[k];
  if (!ok) return Status::DataLoss("compact recommender: " + name + " has shape " + t->shape().to_string());
  for (int64_t i = 0; i < t->num_elements(); ++i) {
    if (!std::isfinite(t->data()[i])) return Status::DataLoss("compact recommender: " + name + " holds a non-finite value");
  }
  return std::vector<float>(t->data(), t->data() + t->num_elements());
}

}  // namespace

namespace {
Result<std::pair<TablePrecision, int64_t>> parse_storage(const std::string& name) {
  if (name == "float") return std::make_pair(TablePrecision::kF32, int64_t{0});
  if (name == "int8") return std::make_pair(TablePrecision::kInt8, int64_t{0});
  if (name.rfind("pq:", 0) == 0 && name.size() > 3 && name.size() <= 8 &&
      name.find_first_not_of("0123456789", 3) == std::string::npos) {
    const int64_t m = std::atoll(name.c_str() + 3);
    if (m >= 1) return std::make_pair(TablePrecision::kPQ, m);
  }
  return Status::InvalidArgument("storage must be float, int8 or pq:M, got '" + name.substr(0, 40) + "'");
}
}  // namespace

Result<RecModel::CompactOptions> RecModel::compact_options(const std::string& rows, const std::string& fold, bool half) {
  VITRINE_ASSIGN_OR_RETURN(auto r, parse_storage(rows));
  VITRINE_ASSIGN_OR_RETURN(auto f, parse_storage(fold));
  CompactOptions o;
  o.rows = r.first;
  o.rows_m = r.second;
  o.fold = f.first;
  o.fold_m = f.second;
  o.half = half;
  return o;
}

Result<std::vector<uint8_t>> RecModel::save_compact(const CompactOptions& o) const {
  for (TablePrecision p : {o.rows, o.fold}) {
    if (p == TablePrecision::kF16) return Status::InvalidArgument("compact: float tables are f32, or F16 with half");
  }
  Json meta;
  if (meta_json_.empty()) {
    meta = Json::object();
    meta.set("kind", kind_);
  } else {
    VITRINE_ASSIGN_OR_RETURN(meta, parse_json(meta_json_));
  }
  Json items = Json::array();
  for (int64_t i = 0; i < num_items(); ++i) items.push_back(item_id(i));
  meta.set("items", std::move(items));
  Json storage = Json::object();
  storage.set("rows", storage_name(o.rows));
  storage.set("rows_m", o.rows_m);
  // Fold rows narrower than the PQ sub-spaces asked for (a linear model's one scale) stay float.
  const TablePrecision fold_p = o.fold == TablePrecision::kPQ && o.fold_m > fold_dim() ? TablePrecision::kF32 : o.fold;
  storage.set("fold", storage_name(fold_p));
  storage.set("fold_m", o.fold_m);
  std::vector<std::pair<std::string, Tensor>> t;
  VITRINE_RETURN_IF_ERROR(add_table("rows", table_, o.rows, o.rows_m, o.half, o.seed, &t));
  if (fold_dim() > 0) VITRINE_RETURN_IF_ERROR(add_table("fold", fold_, fold_p, o.fold_m, o.half, o.seed + 1, &t));
  const int64_t n = num_items();
  VITRINE_ASSIGN_OR_RETURN(Tensor bias, f32_tensor({n}, bias_.data(), bias_.size()));
  t.emplace_back("bias", std::move(bias));
  auto vec = [&](const char* name, const std::vector<float>& v, std::vector<int64_t> dims) -> Status {
    VITRINE_ASSIGN_OR_RETURN(Tensor x, f32_tensor(std::move(dims), v.data(), v.size()));
    t.emplace_back(name, std::move(x));
    return Status::Ok();
  };
  if (kind_ == "mult-dae" || kind_ == "blend") VITRINE_RETURN_IF_ERROR(vec("enc.b", enc_b_, {static_cast<int64_t>(enc_b_.size())}));
  if (kind_ == "mf-bpr" && !mf_user_mean_.empty()) VITRINE_RETURN_IF_ERROR(vec("user.mean", mf_user_mean_, {dim()}));
  if (kind_ == "gru4rec") {
    VITRINE_RETURN_IF_ERROR(vec("gru.w_ih_t", w_ih_t_, {emb_dim_, 3 * hidden_}));
    VITRINE_RETURN_IF_ERROR(vec("gru.w_hh_t", w_hh_t_, {hidden_, 3 * hidden_}));
    VITRINE_RETURN_IF_ERROR(vec("gru.b_ih", b_ih_, {3 * hidden_}));
    VITRINE_RETURN_IF_ERROR(vec("gru.b_hh", b_hh_, {3 * hidden_}));
  }
  std::map<std::string, std::string> file_meta = {{"format", "vitrine"}, {"format_version", "2"}, {"recommender", meta.dump()},
                                                  {"recommender_storage", storage.dump()}};
  if (content_) {
    VITRINE_RETURN_IF_ERROR(vec("content.w", content_->weights(), {content_->buckets() + 1, content_->outputs()}));
    Json c = Json::object();
    c.set("features", ContentMap::kFeatures);
    c.set("buckets", content_->buckets());
    c.set("outputs", content_->outputs());
    c.set("lambda", content_->lambda());
    file_meta["recommender_content"] = c.dump();
  }
  return write_safetensors(t, file_meta, o.half);
}

Result<std::unique_ptr<RecModel>> RecModel::load(std::shared_ptr<const std::vector<uint8_t>> bytes, TablePrecision precision) {
  if (bytes && bytes->size() >= 8) {
    Result<SafetensorsFile> f = SafetensorsFile::parse(bytes);
    if (f.ok() && f->metadata().count("recommender_storage")) {
      VITRINE_RETURN_IF_ERROR(check_vitrine_metadata(f.value()));
      return load_compact(f.value(), precision);
    }
  }
  VITRINE_ASSIGN_OR_RETURN(LoadedModel model, load_model(std::move(bytes)));
  return create(model, precision);
}

Result<std::unique_ptr<RecModel>> RecModel::load_compact(const SafetensorsFile& f, TablePrecision precision) {
  auto it = f.metadata().find("recommender");
  if (it == f.metadata().end()) return Status::DataLoss("compact recommender: no \"recommender\" metadata");
  VITRINE_ASSIGN_OR_RETURN(std::unique_ptr<RecModel> m, from_metadata(it->second));
  Result<Json> sj = parse_json(f.metadata().at("recommender_storage"));
  if (!sj.ok()) return Status::DataLoss("compact recommender storage: " + sj.status().message());
  const JsonRef st(sj.value(), "recommender_storage");
  Result<std::string> rows_storage = st["rows"].as_string(), fold_storage = st["fold"].as_string();
  Result<int64_t> rows_m = st["rows_m"].as_int(), fold_m = st["fold_m"].as_int();
  if (!rows_storage.ok() || !fold_storage.ok() || !rows_m.ok() || !fold_m.ok()) {
    return Status::DataLoss("compact recommender storage: needs rows, rows_m, fold, fold_m");
  }
  const int64_t n = static_cast<int64_t>(m->item_ids_.size());
  VITRINE_ASSIGN_OR_RETURN(m->table_, read_table(f, "rows", rows_storage.value(), rows_m.value(), n, precision));
  m->table_.add_bounds();
  const int64_t d = m->table_.dim();
  VITRINE_ASSIGN_OR_RETURN(m->bias_, read_vector(f, "bias", {n}));
  if (m->kind_ == "mult-dae") {
    VITRINE_ASSIGN_OR_RETURN(m->fold_, read_table(f, "fold", fold_storage.value(), fold_m.value(), n, TablePrecision::kF32));
    m->fold_.store_by_rows();  // read a row at a time
    if (m->fold_.dim() != d) return Status::DataLoss("compact recommender: fold rows and score rows differ in width");
    VITRINE_ASSIGN_OR_RETURN(m->enc_b_, read_vector(f, "enc.b", {d}));
  } else if (m->kind_ == "linear") {
    VITRINE_ASSIGN_OR_RETURN(m->fold_, read_table(f, "fold", fold_storage.value(), fold_m.value(), n, TablePrecision::kF32));
    m->fold_.store_by_rows();
    if (m->fold_.dim() != 1) return Status::DataLoss("compact recommender: a linear model's fold rows are one scale per item");
  } else if (m->kind_ == "blend") {
    const int64_t h = d - m->blend_linear_dim_;
    if (h < 1) return Status::DataLoss("compact recommender: a blend's rows must be wider than its linear part");
    VITRINE_ASSIGN_OR_RETURN(m->fold_, read_table(f, "fold", fold_storage.value(), fold_m.value(), n, TablePrecision::kF32));
    m->fold_.store_by_rows();
    if (m->fold_.dim() != 1 + h) return Status::DataLoss("compact recommender: a blend's fold rows must be 1 + its Mult-DAE width");
    VITRINE_ASSIGN_OR_RETURN(m->enc_b_, read_vector(f, "enc.b", {h}));
  } else if (m->kind_ == "mf-bpr") {
    if (f.contains("user.mean")) {
      VITRINE_ASSIGN_OR_RETURN(m->mf_user_mean_, read_vector(f, "user.mean", {d}));
    }
  } else if (m->kind_ == "gru4rec") {
    VITRINE_ASSIGN_OR_RETURN(m->fold_, read_table(f, "fold", fold_storage.value(), fold_m.value(), n, TablePrecision::kF32));
    m->fold_.store_by_rows();  // read a row at a time
    const int64_t e = m->fold_.dim(), h = d;
    VITRINE_ASSIGN_OR_RETURN(m->w_ih_t_, read_vector(f, "gru.w_ih_t", {e, 3 * h}));
    VITRINE_ASSIGN_OR_RETURN(m->w_hh_t_, read_vector(f, "gru.w_hh_t", {h, 3 * h}));
    VITRINE_ASSIGN_OR_RETURN(m->b_ih_, read_vector(f, "gru.b_ih", {3 * h}));
    VITRINE_ASSIGN_OR_RETURN(m->b_hh_, read_vector(f, "gru.b_hh", {3 * h}));
    m->emb_dim_ = e;
    m->hidden_ = h;
  }
  if (auto c = f.metadata().find("recommender_content"); c != f.metadata().end()) {
    Result<Json> cj = parse_json(c->second);
    if (!cj.ok()) return Status::DataLoss("compact recommender content: " + cj.status().message());
    const JsonRef cr(cj.value(), "recommender_content");
    Result<int64_t> buckets = cr["buckets"].as_int(), outputs = cr["outputs"].as_int();
    Result<double> lambda = cr["lambda"].as_number();
    if (!buckets.ok() || !outputs.ok() || !lambda.ok()) return Status::DataLoss("compact recommender content: needs buckets, outputs, lambda");
    // A map made for another feature set would misplace new items: the model loads and ranks
    // without it, and addItems says why it cannot place them.
    Result<int64_t> features = cr["features"].as_int();
    if (!features.ok() || features.value() != ContentMap::kFeatures) {
      m->content_refused_ = "its content map was made for other content features (set " +
                            (features.ok() ? std::to_string(features.value()) : std::string("unknown")) + ", this build reads " +
                            std::to_string(ContentMap::kFeatures) + "): compact the model again with --catalog";
      return m;
    }
    if (outputs.value() != m->dim() + 1 + m->fold_dim() || buckets.value() < 1 || buckets.value() > (1 << 20)) {
      return Status::DataLoss("compact recommender content: its outputs do not fit the model");
    }
    VITRINE_ASSIGN_OR_RETURN(std::vector<float> w, read_vector(f, "content.w", {buckets.value() + 1, outputs.value()}));
    Result<ContentMap> cm = ContentMap::from_weights(buckets.value(), outputs.value(), std::move(w), lambda.value());
    if (!cm.ok()) return Status::DataLoss("compact recommender content: " + cm.status().message());
    m->content_ = std::make_shared<const ContentMap>(std::move(cm).value());
  }
  return m;
}

Result<std::unique_ptr<RecModel>> RecModel::blend(const RecModel& linear, const RecModel& dae, double w_linear, double w_dae) {
  if (linear.kind_ != "linear" || dae.kind_ != "mult-dae") {
    return Status::InvalidArgument("blend: needs a linear model and a mult-dae model (got " + linear.kind_ + " and " + dae.kind_ + ")");
  }
  if (!(w_linear >= 0 && w_linear <= 1e30) || !(w_dae >= 0 && w_dae <= 1e30) || w_linear + w_dae <= 0) {
    return Status::InvalidArgument("blend: weights must be in [0, 1e30] and not both 0");
  }
  const int64_t n = linear.num_items();
  if (dae.num_items() != n) return Status::InvalidArgument("blend: the two models have different items");
  for (int64_t i = 0; i < n; ++i) {
    if (linear.item_id(i) != dae.item_id(i)) return Status::InvalidArgument("blend: the two models have different items (or order)");
  }
  const int64_t l = linear.dim(), h = dae.dim(), w = l + h;
  std::vector<float> rows(static_cast<size_t>(n * w)), fold(static_cast<size_t>(n * (1 + h))), bias(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    float* row = &rows[static_cast<size_t>(i * w)];
    float* fo = &fold[static_cast<size_t>(i * (1 + h))];
    float b0 = 0, b1 = 0;
    linear.item_params(i, row, &b0, fo);          // linear: fold row = its scale
    dae.item_params(i, row + l, &b1, fo + 1);     // mult-dae: fold row = its encoder row
    bias[static_cast<size_t>(i)] = static_cast<float>(w_linear * b0 + w_dae * b1);
  }
  std::unique_ptr<RecModel> m(new RecModel());
  m->kind_ = "blend";
  m->item_ids_ = linear.item_ids_;
  m->index_ = linear.index_;
  VITRINE_ASSIGN_OR_RETURN(m->table_, ItemTable::build(rows.data(), n, w, TablePrecision::kF32));
  VITRINE_ASSIGN_OR_RETURN(m->fold_, ItemTable::f32_by_rows(std::move(fold), n, 1 + h));
  m->bias_ = std::move(bias);
  m->enc_b_ = dae.enc_b_;
  m->blend_linear_dim_ = l;
  m->blend_w_[0] = w_linear;
  m->blend_w_[1] = w_dae;
  Json meta = Json::object();
  meta.set("kind", std::string("blend"));
  Json b = Json::object();
  b.set("linear_dim", l);
  Json ws = Json::array();
  ws.push_back(w_linear);
  ws.push_back(w_dae);
  b.set("weights", std::move(ws));
  meta.set("blend", std::move(b));
  m->meta_json_ = meta.dump();
  return m;
}

Result<std::unique_ptr<RecModel>> RecModel::from_table(std::vector<std::string> item_ids, const float* rows,
                                                       int64_t n, int64_t d, const float* bias,
                                                       TablePrecision precision) {
  if (!item_ids.empty() && static_cast<int64_t>(item_ids.size()) != n) {
    return Status::InvalidArgument("item table: " + std::to_string(item_ids.size()) + " ids for " + std::to_string(n) + " rows");
  }
  std::unique_ptr<RecModel> m(new RecModel());
  m->kind_ = "table";
  for (size_t i = 0; i < item_ids.size(); ++i) {
    if (!m->index_.emplace(item_ids[i], static_cast<int32_t>(i)).second) {
      return Status::InvalidArgument("item table: item id '" + item_ids[i] + "' appears twice");
    }
  }
  m->item_ids_ = std::move(item_ids);
  VITRINE_ASSIGN_OR_RETURN(m->table_, ItemTable::build(rows, n, d, precision));
  if (bias) {
    for (int64_t i = 0; i < n; ++i) {
      if (!std::isfinite(bias[i])) return Status::InvalidArgument("item table: non-finite bias at item " + std::to_string(i));
    }
    m->bias_.assign(bias, bias + n);
  } else {
    m->bias_.assign(static_cast<size_t>(n), 0.0f);
  }
  return m;
}

std::string RecModel::item_id(int64_t index) const {
  return item_ids_.empty() ? std::to_string(index) : item_ids_[static_cast<size_t>(index)];
}

Result<int32_t> RecModel::find_item(const std::string& id) const {
  if (item_ids_.empty()) {
    char* end = nullptr;
    const long long v = std::strtoll(id.c_str(), &end, 10);
    if (!id.empty() && *end == '\0' && v >= 0 && v < num_items() && std::to_string(v) == id) return static_cast<int32_t>(v);
    return Status::NotFound("unknown item id '" + id + "'");
  }
  auto it = index_.find(id);
  if (it == index_.end()) return Status::NotFound("unknown item id '" + id + "'");
  return it->second;
}

size_t RecModel::bytes() const {
  size_t b = table_.bytes() + fold_.bytes() + 4 * (bias_.size() + enc_b_.size() +
                                   w_ih_t_.size() + w_hh_t_.size() + b_ih_.size() + b_hh_.size());
  for (const std::string& id : item_ids_) b += id.size() + sizeof(std::string) + 16;
  return b;
}

Status RecModel::fold_in(const std::vector<HistoryEvent>& history, std::vector<float>* user) const {
  const int64_t n = num_items();
  for (size_t e = 0; e < history.size(); ++e) {
    const HistoryEvent& ev = history[e];
    if (ev.item < 0 || ev.item >= n) {
      return Status::InvalidArgument("history event " + std::to_string(e) + ": item index " +
                                     std::to_string(ev.item) + " outside [0, " + std::to_string(n) + ")");
    }
    if (!std::isfinite(ev.weight) || !(ev.weight > 0)) {
      return Status::InvalidArgument("history event " + std::to_string(e) + ": weight must be finite and > 0, got " +
                                     std::to_string(ev.weight));
    }
  }
  // Distinct items in order of first appearance, each with its largest weight.
  std::vector<int32_t> items;
  std::vector<float> weight;
  {
    std::unordered_map<int32_t, size_t> pos;
    for (const HistoryEvent& ev : history) {
      auto [it, fresh] = pos.emplace(ev.item, items.size());
      if (fresh) {
        items.push_back(ev.item);
        weight.push_back(ev.weight);
      } else {
        weight[it->second] = std::max(weight[it->second], ev.weight);
      }
    }
  }
  const int64_t d = dim();
  user->assign(static_cast<size_t>(d), 0.0f);
  float* u = user->data();
  if (kind_ == "mult-dae") {
    float sq = 0;
    for (float w : weight) sq += w * w;
    const float inv = sq > 0 ? 1.0f / std::sqrt(sq) : 0.0f;
    std::vector<float> pre(enc_b_), r(static_cast<size_t>(d));
    for (size_t a = 0; a < items.size(); ++a) {
      const float x = weight[a] * inv;
      fold_.row(items[a], r.data());
      for (int64_t j = 0; j < d; ++j) pre[static_cast<size_t>(j)] += x * r[static_cast<size_t>(j)];
    }
    for (int64_t j = 0; j < d; ++j) u[j] = portable_tanh(pre[static_cast<size_t>(j)]);
  } else if (kind_ == "mf-bpr") {
    // SGD on BPR over (history item, sampled non-history item) pairs, item side frozen. A user
    // without history is the training users' mean (a popularity-like prior).
    if (items.empty()) {
      if (!mf_user_mean_.empty()) std::copy(mf_user_mean_.begin(), mf_user_mean_.end(), u);
      return Status::Ok();
    }
    if (static_cast<int64_t>(items.size()) >= n) return Status::Ok();
    std::vector<uint8_t> seen(static_cast<size_t>(n), 0);
    for (int32_t it : items) seen[static_cast<size_t>(it)] = 1;
    std::vector<float> vp(static_cast<size_t>(d)), vq(static_cast<size_t>(d));
    Rng rng(0x5eed0000ull + static_cast<uint64_t>(items.size()));
    const float lr = static_cast<float>(mf_lr_), l2 = static_cast<float>(mf_l2_);
    for (int64_t epoch = 0; epoch < mf_epochs_; ++epoch) {
      for (size_t a = 0; a < items.size(); ++a) {
        for (int64_t s = 0; s < mf_negatives_; ++s) {
          int64_t q;
          do q = rng.below(n); while (seen[static_cast<size_t>(q)]);
          const int32_t p = items[a];
          table_.row(p, vp.data());
          table_.row(q, vq.data());
          float x = bias_[static_cast<size_t>(p)] - bias_[static_cast<size_t>(q)];
          for (int64_t j = 0; j < d; ++j) x += u[j] * (vp[static_cast<size_t>(j)] - vq[static_cast<size_t>(j)]);
          const float g = portable_sigmoid(-x) * weight[a];
          for (int64_t j = 0; j < d; ++j) {
            u[j] += lr * (g * (vp[static_cast<size_t>(j)] - vq[static_cast<size_t>(j)]) - l2 * u[j]);
          }
        }
      }
    }
  } else if (kind_ == "linear") {
    // The weighted sum of the history's table rows, each times its item's fold scale (no
    // normalization: scores are linear in the history).
    std::vector<float> r(static_cast<size_t>(d));
    for (size_t a = 0; a < items.size(); ++a) {
      table_.row(items[a], r.data());
      float scale = 0;
      fold_.row(items[a], &scale);
      const float x = weight[a] * scale;
      for (int64_t j = 0; j < d; ++j) u[j] += x * r[static_cast<size_t>(j)];
    }
  } else if (kind_ == "blend") {
    // The linear part (rows [0, L) times the fold scale), then the Mult-DAE encoder (fold rows
    // [1, 1 + H) on the L2-normalized weights, tanh), each times its weight.
    const int64_t l = blend_linear_dim_, h = d - l;
    std::vector<float> r(static_cast<size_t>(d)), fr(static_cast<size_t>(1 + h)), pre(enc_b_);
    float sq = 0;
    for (float w : weight) sq += w * w;
    const float inv = sq > 0 ? 1.0f / std::sqrt(sq) : 0.0f;
    for (size_t a = 0; a < items.size(); ++a) {
      table_.row(items[a], r.data());
      fold_.row(items[a], fr.data());
      const float x = weight[a] * fr[0];
      for (int64_t j = 0; j < l; ++j) u[j] += x * r[static_cast<size_t>(j)];
      const float xn = weight[a] * inv;
      for (int64_t j = 0; j < h; ++j) pre[static_cast<size_t>(j)] += xn * fr[static_cast<size_t>(1 + j)];
    }
    const float w0 = static_cast<float>(blend_w_[0]), w1 = static_cast<float>(blend_w_[1]);
    for (int64_t j = 0; j < l; ++j) u[j] *= w0;
    for (int64_t j = 0; j < h; ++j) u[l + j] = w1 * portable_tanh(pre[static_cast<size_t>(j)]);
  } else if (kind_ == "table") {
    float total = 0;
    std::vector<float> r(static_cast<size_t>(d));
    for (size_t a = 0; a < items.size(); ++a) {
      table_.row(items[a], r.data());
      for (int64_t j = 0; j < d; ++j) u[j] += weight[a] * r[static_cast<size_t>(j)];
      total += weight[a];
    }
    for (int64_t j = 0; j < d && total > 0; ++j) u[j] /= total;
  } else {  // gru4rec: every event in order (repeats included), state starts at zero
    const int64_t h = hidden_, e = emb_dim_, g3 = 3 * h;
    std::vector<float> gi(static_cast<size_t>(g3)), gh(static_cast<size_t>(g3)), x(static_cast<size_t>(e));
    for (const HistoryEvent& ev : history) {
      fold_.row(ev.item, x.data());
      std::copy(b_ih_.begin(), b_ih_.end(), gi.begin());
      std::copy(b_hh_.begin(), b_hh_.end(), gh.begin());
      add_vec_mat(x.data(), w_ih_t_.data(), e, g3, gi.data());
      add_vec_mat(u, w_hh_t_.data(), h, g3, gh.data());
      for (int64_t j = 0; j < h; ++j) {
        const size_t r = static_cast<size_t>(j), z = static_cast<size_t>(h + j), c = static_cast<size_t>(2 * h + j);
        const float rg = portable_sigmoid(gi[r] + gh[r]);
        const float zg = portable_sigmoid(gi[z] + gh[z]);
        const float ng = portable_tanh(gi[c] + rg * gh[c]);
        gi[r] = (1 - zg) * ng + zg * u[j];  // the new state, kept aside until every unit is done
      }
      for (int64_t j = 0; j < h; ++j) u[j] = gi[static_cast<size_t>(j)];
    }
  }
  for (int64_t j = 0; j < d; ++j) {
    if (!std::isfinite(u[j])) {
      return Status::InvalidArgument("fold-in produced a non-finite user vector (event weights too large?)");
    }
  }
  return Status::Ok();
}

// Below this many table values a ranking stays on the calling thread: waking the pool's threads
// costs more (10k × 64 took 0.20 ms on 2 threads, 0.10 ms on one; npm run bench -- recommend).
constexpr int64_t kParallelValues = int64_t{1} << 21;

void RecModel::score(const float* user, float* scores, Context* ctx) const {
  struct Job {
    const RecModel* m;
    const float* user;
    float* out;
  } job{this, user, scores};
  const int64_t n = num_items();
  constexpr int64_t kTile = 2048;
  pthreadpool_t pool = ctx ? ctx->threadpool() : nullptr;
  if (!pool || n * dim() < kParallelValues || (ctx && ctx->num_threads() <= 1)) {
    table_.score(user, bias_.data(), scores, 0, n);
    return;
  }
  pthreadpool_parallelize_1d_tile_1d(
      pool,
      [](void* arg, size_t start, size_t count) {
        const Job* j = static_cast<const Job*>(arg);
        j->m->table_.score(j->user, j->m->bias_.data(), j->out + start, static_cast<int64_t>(start),
                           static_cast<int64_t>(start + count));
      },
      &job, static_cast<size_t>(n), static_cast<size_t>(kTile), 0);
}

std::vector<ScoredItem> RecModel::top_scored(const float* user, int64_t k, const uint8_t* excluded, Context* ctx) const {
  const int64_t n = num_items();
  k = std::min(k, n);
  if (k <= 0) return {};
  if (table_.has_bounds()) return table_.top(user, bias_.data(), k, excluded);
  if (table_.precision() == TablePrecision::kPQ) {  // its lookup tables are built per score() call: once
    std::vector<float> scores(static_cast<size_t>(n));
    score(user, scores.data(), ctx);
    return top_k(scores.data(), n, k, excluded);
  }
  // Tiles of kTile scores (in L1) feed a heap per thread; the heaps are merged at the end.
  constexpr int64_t kTile = 2048;
  struct Job {
    const RecModel* m;
    const float* user;
    const uint8_t* excluded;
    int64_t n;
    std::vector<TopHeap> heaps;
  } job{this, user, excluded, n, {}};
  pthreadpool_t pool = ctx && ctx->num_threads() > 1 && n * dim() >= kParallelValues ? ctx->threadpool() : nullptr;
  const size_t threads = pool ? pthreadpool_get_threads_count(pool) : 1;
  job.heaps.assign(threads, TopHeap(k));
  auto tile = [](void* arg, size_t thread, size_t t) {
    Job* j = static_cast<Job*>(arg);
    float buf[kTile];
    const int64_t begin = static_cast<int64_t>(t) * kTile, end = std::min(j->n, begin + kTile);
    j->m->table_.score(j->user, j->m->bias_.data(), buf, begin, end);
    j->heaps[thread].offer(buf, begin, end - begin, j->excluded);
  };
  const size_t tiles = static_cast<size_t>((n + kTile - 1) / kTile);
  if (pool) {
    pthreadpool_parallelize_1d_with_thread(pool, tile, &job, tiles, 0);
  } else {
    for (size_t t = 0; t < tiles; ++t) tile(&job, 0, t);
  }
  for (size_t t = 1; t < threads; ++t) job.heaps[0].merge(job.heaps[t]);
  return job.heaps[0].take();
}

void RecModel::score_items(const float* user, const int32_t* items, int64_t count, float* out) const {
  table_.score_items(user, bias_.data(), items, count, out);
}

// ---- item deltas -------------------------------------------------------------------------------

int64_t RecModel::fold_dim() const { return fold_.size() > 0 ? fold_.dim() : 0; }

namespace {

// FNV-1a over the kind, dimensions and ids (each followed by a separator byte no UTF-8 text holds).
template <typename IdAt>
uint64_t fingerprint_of(const std::string& kind, int64_t dim, int64_t fold, int64_t n, IdAt id_at) {
  uint64_t h = 1469598103934665603ull;
  auto mix = [&](const std::string& s) {
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
    h = (h ^ 0xffu) * 1099511628211ull;
  };
  mix(kind);
  mix(std::to_string(dim));
  mix(std::to_string(fold));
  for (int64_t i = 0; i < n; ++i) mix(id_at(i));
  return h;
}

}  // namespace

std::string fingerprint_text(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

uint64_t RecModel::fingerprint() const {
  std::string kind = kind_;
  if (kind_ == "blend") {  // a blend's state includes how it weighs its parts
    char buf[96];
    std::snprintf(buf, sizeof buf, ":%lld:%.17g:%.17g", static_cast<long long>(blend_linear_dim_), blend_w_[0], blend_w_[1]);
    kind += buf;
  }
  return fingerprint_of(kind, dim(), fold_dim(), num_items(), [this](int64_t i) { return item_id(i); });
}

void RecModel::item_params(int64_t i, float* row, float* bias, float* fold) const {
  table_.row(i, row);
  *bias = bias_[static_cast<size_t>(i)];
  const int64_t f = fold_dim();
  if (f == 0) return;
  fold_.row(i, fold);
}

namespace {

Result<uint64_t> parse_hex64(const std::string& s, const char* what) {
  if (s.size() != 16 || s.find_first_not_of("0123456789abcdef") != std::string::npos) {
    return Status::DataLoss(std::string("item delta: ") + what + " must be 16 lowercase hex digits");
  }
  return static_cast<uint64_t>(std::strtoull(s.c_str(), nullptr, 16));
}

}  // namespace

Status RecModel::apply_delta(const ItemDelta& d) {
  const int64_t n = num_items(), dm = dim(), f = fold_dim();
  if (d.kind != kind_ || d.dim != dm || d.fold_dim != f) {
    return Status::InvalidArgument("item delta for a " + d.kind + " model of dimension " + std::to_string(d.dim) +
                                   ", this one is " + kind_ + " of dimension " + std::to_string(dm));
  }
  if (d.base != fingerprint()) {
    return Status::FailedPrecondition("item delta was made for another model state (base " + fingerprint_text(d.base) + ", this model " +
                                      fingerprint_text(fingerprint()) + "): apply the deltas in order, on the model they were made for");
  }
  const size_t u = d.upsert.size();
  if (d.rows.size() != u * static_cast<size_t>(dm) || d.bias.size() != u || d.fold.size() != u * static_cast<size_t>(f)) {
    return Status::InvalidArgument("item delta: parameter sizes do not match its " + std::to_string(u) + " items");
  }
  for (size_t i = 0; i < d.rows.size(); ++i) if (!std::isfinite(d.rows[i])) return Status::InvalidArgument("item delta: non-finite row value");
  for (size_t i = 0; i < d.bias.size(); ++i) if (!std::isfinite(d.bias[i])) return Status::InvalidArgument("item delta: non-finite bias");
  for (size_t i = 0; i < d.fold.size(); ++i) if (!std::isfinite(d.fold[i])) return Status::InvalidArgument("item delta: non-finite fold-in value");
  std::vector<uint8_t> removed(static_cast<size_t>(n), 0);
  for (const std::string& id : d.remove) {
    Result<int32_t> i = find_item(id);
    if (!i.ok()) return Status::InvalidArgument("item delta removes unknown item '" + id + "'");
    if (removed[static_cast<size_t>(i.value())]) return Status::InvalidArgument("item delta removes '" + id + "' twice");
    removed[static_cast<size_t>(i.value())] = 1;
  }
  std::unordered_map<std::string, size_t> seen;
  for (size_t j = 0; j < u; ++j) {
    if (d.upsert[j].empty()) return Status::InvalidArgument("item delta: empty item id");
    if (!seen.emplace(d.upsert[j], j).second) return Status::InvalidArgument("item delta lists '" + d.upsert[j] + "' twice");
    Result<int32_t> i = find_item(d.upsert[j]);
    if (i.ok() && removed[static_cast<size_t>(i.value())]) {
      return Status::InvalidArgument("item delta both removes and changes '" + d.upsert[j] + "'");
    }
  }
  // The new state, built aside: nothing changes unless every step succeeds.
  std::vector<std::string> ids;
  std::vector<float> rows, bias, fold, r(static_cast<size_t>(dm)), fr(static_cast<size_t>(f));
  auto push = [&](const std::string& id, const float* row, float b, const float* fo) {
    ids.push_back(id);
    rows.insert(rows.end(), row, row + dm);
    bias.push_back(b);
    fold.insert(fold.end(), fo, fo + f);
  };
  for (int64_t i = 0; i < n; ++i) {
    if (removed[static_cast<size_t>(i)]) continue;
    const std::string id = item_id(i);
    auto it = seen.find(id);
    if (it != seen.end()) {
      const size_t j = it->second;
      push(id, d.rows.data() + j * dm, d.bias[j], d.fold.data() + j * f);
      seen.erase(it);
    } else {
      float b;
      item_params(i, r.data(), &b, fr.data());
      push(id, r.data(), b, fr.data());
    }
  }
  for (size_t j = 0; j < u; ++j) {
    if (seen.count(d.upsert[j])) push(d.upsert[j], d.rows.data() + j * dm, d.bias[j], d.fold.data() + j * f);
  }
  const int64_t m = static_cast<int64_t>(ids.size());
  if (m < 1) return Status::InvalidArgument("item delta would remove every item");
  if (m > INT32_MAX) return Status::InvalidArgument("item delta: too many items");
  std::unordered_map<std::string, int32_t> index;
  index.reserve(ids.size());
  for (int64_t i = 0; i < m; ++i) index.emplace(ids[static_cast<size_t>(i)], static_cast<int32_t>(i));
  const uint64_t got = fingerprint_of(kind_, dm, f, m, [&ids](int64_t i) { return ids[static_cast<size_t>(i)]; });
  if (got != d.result) {
    return Status::DataLoss("item delta: the items after applying it are not the state it promises (result " + fingerprint_text(d.result) +
                            ", got " + fingerprint_text(got) + ")");
  }
  VITRINE_ASSIGN_OR_RETURN(ItemTable table, table_.with_rows(rows.data(), m));
  ItemTable fold_table;
  if (f > 0) {
    VITRINE_ASSIGN_OR_RETURN(fold_table, fold_.with_rows(fold.data(), m));
  }
  item_ids_ = std::move(ids);
  index_ = std::move(index);
  table_ = std::move(table);
  fold_ = std::move(fold_table);
  fold_.store_by_rows();
  bias_ = std::move(bias);
  return Status::Ok();
}

Result<ItemDelta> diff_items(const RecModel& from, const RecModel& to, float tolerance) {
  if (from.kind() != to.kind() || from.dim() != to.dim() || from.fold_dim() != to.fold_dim()) {
    return Status::InvalidArgument("item delta: the models differ in kind or dimensions (" + from.kind() + " " +
                                   std::to_string(from.dim()) + ", " + to.kind() + " " + std::to_string(to.dim()) + ")");
  }
  if (!(tolerance >= 0)) return Status::InvalidArgument("item delta: tolerance must be >= 0");
  if (from.kind() == "blend" && (from.blend_linear_dim() != to.blend_linear_dim() || from.blend_weight(0) != to.blend_weight(0) ||
                                 from.blend_weight(1) != to.blend_weight(1))) {
    return Status::InvalidArgument("item delta: the two blends weigh their parts differently: ship the new model itself");
  }
  ItemDelta d;
  d.kind = from.kind();
  d.dim = from.dim();
  d.fold_dim = from.fold_dim();
  d.base = from.fingerprint();
  const int64_t dm = d.dim, f = d.fold_dim;
  std::vector<float> ra(static_cast<size_t>(dm)), rb(static_cast<size_t>(dm)), fa(static_cast<size_t>(f)), fb(static_cast<size_t>(f));
  for (int64_t i = 0; i < from.num_items(); ++i) {
    if (!to.find_item(from.item_id(i)).ok()) d.remove.push_back(from.item_id(i));
  }
  for (int64_t i = 0; i < to.num_items(); ++i) {
    const std::string id = to.item_id(i);
    float bb;
    to.item_params(i, rb.data(), &bb, fb.data());
    Result<int32_t> old = from.find_item(id);
    if (old.ok()) {
      float ba;
      from.item_params(old.value(), ra.data(), &ba, fa.data());
      bool same = std::fabs(ba - bb) <= tolerance;
      for (int64_t j = 0; same && j < dm; ++j) same = std::fabs(ra[static_cast<size_t>(j)] - rb[static_cast<size_t>(j)]) <= tolerance;
      for (int64_t j = 0; same && j < f; ++j) same = std::fabs(fa[static_cast<size_t>(j)] - fb[static_cast<size_t>(j)]) <= tolerance;
      if (same) continue;
    }
    d.upsert.push_back(id);
    d.rows.insert(d.rows.end(), rb.begin(), rb.end());
    d.bias.push_back(bb);
    d.fold.insert(d.fold.end(), fb.begin(), fb.end());
  }
  seal_item_delta(from, &d);
  return d;
}

void seal_item_delta(const RecModel& base, ItemDelta* d) {
  d->kind = base.kind();
  d->dim = base.dim();
  d->fold_dim = base.fold_dim();
  d->base = base.fingerprint();
  // The result: survivors in the base's order, then the new ids in the delta's order.
  std::unordered_map<std::string, int> removed;
  for (const std::string& id : d->remove) removed.emplace(id, 1);
  std::vector<std::string> ids;
  for (int64_t i = 0; i < base.num_items(); ++i) {
    if (!removed.count(base.item_id(i))) ids.push_back(base.item_id(i));
  }
  std::unordered_map<std::string, int> added;
  for (const std::string& id : d->upsert) {
    if (!base.find_item(id).ok() && added.emplace(id, 1).second) ids.push_back(id);
  }
  d->result = fingerprint_of(d->kind, d->dim, d->fold_dim, static_cast<int64_t>(ids.size()),
                             [&ids](int64_t i) { return ids[static_cast<size_t>(i)]; });
}

Result<std::vector<uint8_t>> write_item_delta(const ItemDelta& d, bool half) {
  Json meta = Json::object();
  meta.set("kind", d.kind);
  meta.set("dim", d.dim);
  meta.set("fold_dim", d.fold_dim);
  meta.set("base", fingerprint_text(d.base));
  meta.set("result", fingerprint_text(d.result));
  Json rm = Json::array(), up = Json::array();
  for (const std::string& id : d.remove) rm.push_back(id);
  for (const std::string& id : d.upsert) up.push_back(id);
  meta.set("remove", std::move(rm));
  meta.set("upsert", std::move(up));
  std::vector<std::pair<std::string, Tensor>> tensors;
  const int64_t u = static_cast<int64_t>(d.upsert.size());
  if (u > 0) {
    VITRINE_ASSIGN_OR_RETURN(Tensor rows, Tensor::from_values(Shape{u, d.dim}, d.rows.data(), d.rows.size()));
    VITRINE_ASSIGN_OR_RETURN(Tensor bias, Tensor::from_values(Shape{u}, d.bias.data(), d.bias.size()));
    tensors.emplace_back("rows", std::move(rows));
    tensors.emplace_back("bias", std::move(bias));
    if (d.fold_dim > 0) {
      VITRINE_ASSIGN_OR_RETURN(Tensor fold, Tensor::from_values(Shape{u, d.fold_dim}, d.fold.data(), d.fold.size()));
      tensors.emplace_back("fold", std::move(fold));
    }
  }
  return write_safetensors(tensors, {{"format", "vitrine"}, {"format_version", "1"}, {"recommender_delta", meta.dump()}}, half);
}

Result<ItemDelta> parse_item_delta(std::shared_ptr<const std::vector<uint8_t>> bytes) {
  VITRINE_ASSIGN_OR_RETURN(SafetensorsFile file, SafetensorsFile::parse(std::move(bytes)));
  VITRINE_RETURN_IF_ERROR(check_vitrine_metadata(file));
  auto it = file.metadata().find("recommender_delta");
  if (it == file.metadata().end()) return Status::InvalidArgument("not an item delta: no \"recommender_delta\" metadata");
  Result<Json> meta = parse_json(it->second);
  if (!meta.ok()) return Status::DataLoss("item delta metadata: " + meta.status().message());
  const JsonRef root(meta.value(), "recommender_delta");
  ItemDelta d;
  auto wrap = [](const Status& s) { return Status::DataLoss("item delta: " + s.message()); };
  Result<std::string> kind = root["kind"].as_string();
  if (!kind.ok()) return wrap(kind.status());
  d.kind = kind.value();
  Result<int64_t> dim = root["dim"].as_int(), fold_dim = root["fold_dim"].as_int();
  if (!dim.ok()) return wrap(dim.status());
  if (!fold_dim.ok()) return wrap(fold_dim.status());
  d.dim = dim.value();
  d.fold_dim = fold_dim.value();
  if (d.dim < 1 || d.dim > (1 << 20) || d.fold_dim < 0 || d.fold_dim > (1 << 20)) return Status::DataLoss("item delta: dimensions out of range");
  Result<std::string> base = root["base"].as_string(), result = root["result"].as_string();
  if (!base.ok()) return wrap(base.status());
  if (!result.ok()) return wrap(result.status());
  VITRINE_ASSIGN_OR_RETURN(d.base, parse_hex64(base.value(), "base"));
  VITRINE_ASSIGN_OR_RETURN(d.result, parse_hex64(result.value(), "result"));
  for (const char* key : {"remove", "upsert"}) {
    const JsonRef list = root[key];
    Result<const Json::Array*> a = list.as_array();
    if (!a.ok()) return wrap(a.status());
    std::vector<std::string>& out = std::string(key) == "remove" ? d.remove : d.upsert;
    for (size_t i = 0; i < a.value()->size(); ++i) {
      Result<std::string> id = list[i].as_string();
      if (!id.ok()) return wrap(id.status());
      out.push_back(id.value());
    }
  }
  const int64_t u = static_cast<int64_t>(d.upsert.size());
  auto read = [&](const char* name, Shape dims, std::vector<float>* out) -> Status {
    Result<Tensor> t = file.tensor(name);
    if (!t.ok()) return Status::DataLoss(std::string("item delta: tensor \"") + name + "\": " + t.status().message());
    if (t->shape() != dims) return Status::DataLoss(std::string("item delta: tensor \"") + name + "\" has shape " +
                                                    t->shape().to_string() + ", expected " + dims.to_string());
    out->assign(t->data(), t->data() + t->num_elements());
    return Status::Ok();
  };
  const size_t expected = u == 0 ? 0 : (d.fold_dim > 0 ? 3 : 2);
  if (file.tensors().size() != expected) {
    return Status::DataLoss("item delta: expected " + std::to_string(expected) + " tensors, found " + std::to_string(file.tensors().size()));
  }
  if (u > 0) {
    VITRINE_RETURN_IF_ERROR(read("rows", Shape{u, d.dim}, &d.rows));
    VITRINE_RETURN_IF_ERROR(read("bias", Shape{u}, &d.bias));
    if (d.fold_dim > 0) VITRINE_RETURN_IF_ERROR(read("fold", Shape{u, d.fold_dim}, &d.fold));
  }
  return d;
}

std::vector<ScoredItem> RecModel::similar_items(int32_t item, int64_t k, const uint8_t* excluded) const {
  const int64_t n = num_items(), d = dim();
  if (item < 0 || item >= n) return {};
  std::vector<float> q(static_cast<size_t>(d)), sims(static_cast<size_t>(n));
  table_.row(item, q.data());
  table_.score(q.data(), nullptr, sims.data(), 0, n);
  const float nq = table_.norm(item);
  for (int64_t i = 0; i < n; ++i) {
    const float ni = table_.norm(i);
    sims[static_cast<size_t>(i)] = (nq > 0 && ni > 0) ? sims[static_cast<size_t>(i)] / (nq * ni) : 0.0f;
  }
  sims[static_cast<size_t>(item)] = std::numeric_limits<float>::quiet_NaN();  // never itself
  return top_k(sims.data(), n, k, excluded);
}

ScoredItem RecModel::explain(int32_t item, const std::vector<HistoryEvent>& history) const {
  ScoredItem best{-1, 0.0f};
  if (item < 0 || item >= num_items()) return best;
  // The candidate's row once, then one dot product per history item (as ItemTable::cosine).
  std::vector<float> r(static_cast<size_t>(dim()));
  table_.row(item, r.data());
  const float nr = table_.norm(item);
  for (const HistoryEvent& ev : history) {
    if (ev.item < 0 || ev.item >= num_items() || ev.item == item) continue;
    const float nh = table_.norm(ev.item);
    float dot = 0;
    if (nr > 0 && nh > 0) table_.score(r.data(), nullptr, &dot, ev.item, ev.item + 1);
    const float s = nr > 0 && nh > 0 ? dot / (nr * nh) : 0.0f;
    if (best.item < 0 || s >= best.score) best = {ev.item, s};
  }
  return best;
}

// ---- RecCatalog and the ranking pipeline -------------------------------------------------------

RecCatalog RecCatalog::build(const RecModel& model, const std::vector<Entry>& entries) {
  RecCatalog c;
  for (const Entry& e : entries) {
    Result<int32_t> i = model.find_item(e.id);
    if (!i.ok()) continue;
    if (!e.in_stock) {
      if (c.out_of_stock_.empty()) c.out_of_stock_.assign(static_cast<size_t>(model.num_items()), 0);
      c.out_of_stock_[static_cast<size_t>(i.value())] = 1;
    }
    for (const std::string& cat : e.categories) {
      std::vector<int32_t>& m = c.members_[cat];
      if (m.empty() || m.back() != i.value()) m.push_back(i.value());
    }
  }
  return c;
}

Result<RecCatalog> RecCatalog::from_json(const RecModel& model, const JsonRef& j) {
  if (!j.ok() || !j.get()->is_array()) return Status::InvalidArgument("catalog must be an array of { id, categories?, inStock? }");
  const Json::Array* list = &j.get()->array_items();
  std::vector<Entry> entries;
  entries.reserve(list->size());
  for (const Json& item : *list) {
    const Json* id = item.find("id");
    if (id == nullptr || !id->is_string()) return Status::InvalidArgument("catalog entries need a string id");
    Entry e;
    e.id = id->string_value();
    if (const Json* cats = item.find("categories"); cats != nullptr && !cats->is_null()) {
      if (!cats->is_array()) return Status::InvalidArgument("catalog entry '" + e.id + "': categories must be an array");
      for (const Json& c : cats->array_items()) {
        if (!c.is_string()) return Status::InvalidArgument("catalog entry '" + e.id + "': categories must be strings");
        e.categories.push_back(c.string_value());
      }
    }
    if (const Json* stock = item.find("inStock"); stock != nullptr && !stock->is_null()) {
      if (!stock->is_bool()) return Status::InvalidArgument("catalog entry '" + e.id + "': inStock must be true or false");
      e.in_stock = stock->bool_value();
    }
    entries.push_back(std::move(e));
  }
  return build(model, entries);
}

void RecCatalog::exclude_outside(const std::vector<std::string>& categories, std::vector<uint8_t>* excluded) const {
  std::vector<uint8_t> inside(excluded->size(), 0);
  for (const std::string& c : categories) {
    auto it = members_.find(c);
    if (it == members_.end()) continue;
    for (int32_t i : it->second) inside[static_cast<size_t>(i)] = 1;
  }
  for (size_t i = 0; i < inside.size(); ++i) (*excluded)[i] |= static_cast<uint8_t>(!inside[i]);
}

namespace {

// The request's mask (empty when nothing is left out), after checking the request.
Result<std::vector<uint8_t>> request_mask(const RecModel& model, const RecCatalog* catalog, const RecommendRequest& r,
                                          bool use_history) {
  const int64_t n = model.num_items();
  if (r.k < 1) return Status::InvalidArgument("k must be a positive integer, got " + std::to_string(r.k));
  if (!(r.diversity >= 0 && r.diversity <= 1)) return Status::InvalidArgument("diversity must be in [0, 1], got " + std::to_string(r.diversity));
  if (r.pool < 0) return Status::InvalidArgument("pool must be a positive integer, got " + std::to_string(r.pool));
  if (!r.excluded.empty() && static_cast<int64_t>(r.excluded.size()) != n) {
    return Status::InvalidArgument("the excluded mask has " + std::to_string(r.excluded.size()) + " entries, expected one per item (" +
                                   std::to_string(n) + ")");
  }
  if (!r.categories.empty() && catalog == nullptr) return Status::FailedPrecondition("categories need a catalog");
  std::vector<uint8_t> mask = r.excluded;
  auto mark = [&](int32_t i, const char* what) -> Status {
    if (i < 0 || i >= n) return Status::OutOfRange(std::string(what) + " item index " + std::to_string(i) + " out of range");
    if (mask.empty()) mask.assign(static_cast<size_t>(n), 0);
    mask[static_cast<size_t>(i)] = 1;
    return Status::Ok();
  };
  for (int32_t i : r.exclude) VITRINE_RETURN_IF_ERROR(mark(i, "excluded"));
  if (use_history) {
    for (const HistoryEvent& e : r.history) {
      if (e.item < 0 || e.item >= n) return Status::OutOfRange("history item index " + std::to_string(e.item) + " out of range");
      if (r.exclude_seen) VITRINE_RETURN_IF_ERROR(mark(e.item, "history"));
    }
  }
  if (catalog != nullptr) {
    for (int64_t i = 0; i < n; ++i) {
      if (catalog->out_of_stock(static_cast<int32_t>(i))) VITRINE_RETURN_IF_ERROR(mark(static_cast<int32_t>(i), "out-of-stock"));
    }
    if (!r.categories.empty()) {
      if (mask.empty()) mask.assign(static_cast<size_t>(n), 0);
      catalog->exclude_outside(r.categories, &mask);
    }
  }
  return mask;
}

}  // namespace

Result<std::vector<Recommendation>> recommend(const RecModel& model, const RecCatalog* catalog, const float* user,
                                              const RecommendRequest& r, Context* ctx) {
  if (user == nullptr) return Status::FailedPrecondition("recommend: no user vector (fold in a history first)");
  VITRINE_ASSIGN_OR_RETURN(std::vector<uint8_t> mask, request_mask(model, catalog, r, true));
  const int64_t n = model.num_items();
  std::vector<ScoredItem> top;
  if (r.candidates.empty()) {
    const int64_t k = std::min(r.k, n);
    const int64_t pool = std::min(n, r.pool > 0 ? r.pool : std::max<int64_t>(50, 5 * k));
    top = model.top_scored(user, r.diversity > 0 ? std::max(k, pool) : k, mask.empty() ? nullptr : mask.data(), ctx);
    if (r.diversity > 0) top = mmr(top, model.table(), k, r.diversity);
  } else {
    // Only the page's candidates: scored one by one, ranked among themselves (repeats once).
    // (a set of the list, not a mask of the catalogue: a page's 200 ids over 1M items stay cheap)
    std::vector<int32_t> cand;
    std::unordered_set<int32_t> listed;
    listed.reserve(r.candidates.size());
    for (int32_t i : r.candidates) {
      if (i < 0 || i >= n) return Status::OutOfRange("candidate item index " + std::to_string(i) + " out of range");
      if (!listed.insert(i).second) continue;
      if (mask.empty() || !mask[static_cast<size_t>(i)]) cand.push_back(i);
    }
    const int64_t m = static_cast<int64_t>(cand.size());
    const int64_t k = std::min(r.k, m);
    std::vector<float> scores(static_cast<size_t>(m));
    model.score_items(user, cand.data(), m, scores.data());
    const int64_t pool = std::min(m, r.pool > 0 ? r.pool : std::max<int64_t>(50, 5 * k));
    top = top_k(scores.data(), m, r.diversity > 0 ? std::max(k, pool) : k, nullptr);
    for (ScoredItem& t : top) t.item = cand[static_cast<size_t>(t.item)];
    // top_k breaks ties by position in the list; by item index like the full ranking instead.
    std::stable_sort(top.begin(), top.end(), [](const ScoredItem& a, const ScoredItem& b) {
      return a.score > b.score || (a.score == b.score && a.item < b.item);
    });
    if (r.diversity > 0) top = mmr(top, model.table(), k, r.diversity);
  }
  std::vector<Recommendation> out;
  out.reserve(top.size());
  for (const ScoredItem& t : top) {
    Recommendation rec{t.item, t.score, -1, 0.0f};
    if (r.explain && !r.history.empty()) {
      const ScoredItem e = model.explain(t.item, r.history);
      rec.because = e.item;
      rec.similarity = e.score;
    }
    out.push_back(rec);
  }
  return out;
}

Result<std::vector<Recommendation>> similar_to(const RecModel& model, const RecCatalog* catalog, int32_t item,
                                               const RecommendRequest& r) {
  if (item < 0 || item >= model.num_items()) return Status::OutOfRange("similar: item index " + std::to_string(item) + " out of range");
  VITRINE_ASSIGN_OR_RETURN(std::vector<uint8_t> mask, request_mask(model, catalog, r, false));
  std::vector<Recommendation> out;
  for (const ScoredItem& t : model.similar_items(item, std::min(r.k, model.num_items()), mask.empty() ? nullptr : mask.data())) {
    out.push_back({t.item, t.score, -1, 0.0f});
  }
  return out;
}

}  // namespace vitrine
