// Image tagging (tag.h): pre-processing, the tagger, few-shot heads and similar-image search.
#include "vitrine/tag.h"
#include "vitrine/limits.h"

#include <algorithm>
#include <numeric>
#include <cmath>
#include <cstring>
#include <limits>
#include <unordered_map>

#include "vitrine/train.h"

namespace vitrine {
namespace {

constexpr int64_t kMaxSide = 16384;

// One output pixel's source taps along an axis.
struct Taps {
  std::vector<int64_t> first;   // (out) index of the first tap
  std::vector<int64_t> count;   // (out)
  std::vector<float> weights;   // concatenated, (out, max_taps)
  int64_t max_taps = 0;
};

// Weights resampling the source interval [start, start + length) (in pixels of a source axis of
// size n) onto `out` pixels: area averaging when shrinking, bilinear (half-pixel centres) when
// enlarging.
Taps make_taps(double start, double length, int64_t n, int64_t out) {
  Taps t;
  const double scale = length / static_cast<double>(out);  // source pixels per output pixel
  t.first.resize(static_cast<size_t>(out));
  t.count.resize(static_cast<size_t>(out));
  if (scale > 1.0) {
    t.max_taps = static_cast<int64_t>(std::ceil(scale)) + 2;
    t.weights.assign(static_cast<size_t>(out * t.max_taps), 0.0f);
    for (int64_t o = 0; o < out; ++o) {
      const double a = start + o * scale, b = a + scale;
      const int64_t lo = std::max<int64_t>(0, static_cast<int64_t>(std::floor(a)));
      const int64_t hi = std::min<int64_t>(n, static_cast<int64_t>(std::ceil(b)));
      t.first[static_cast<size_t>(o)] = lo;
      t.count[static_cast<size_t>(o)] = std::max<int64_t>(0, hi - lo);
      double total = 0;
      for (int64_t i = lo; i < hi; ++i) total += std::min<double>(b, i + 1) - std::max<double>(a, i);
      for (int64_t i = lo; i < hi; ++i) {
        const double w = (std::min<double>(b, i + 1) - std::max<double>(a, i)) / (total > 0 ? total : 1);
        t.weights[static_cast<size_t>(o * t.max_taps + (i - lo))] = static_cast<float>(w);
      }
    }
  } else {
    t.max_taps = 2;
    t.weights.assign(static_cast<size_t>(out * 2), 0.0f);
    for (int64_t o = 0; o < out; ++o) {
      double s = start + (o + 0.5) * scale - 0.5;
      s = std::min<double>(std::max<double>(s, 0.0), static_cast<double>(n - 1));
      const int64_t i0 = static_cast<int64_t>(std::floor(s));
      const int64_t i1 = std::min<int64_t>(i0 + 1, n - 1);
      const double f = s - static_cast<double>(i0);
      t.first[static_cast<size_t>(o)] = i0;
      t.count[static_cast<size_t>(o)] = i1 > i0 ? 2 : 1;
      t.weights[static_cast<size_t>(o * 2)] = static_cast<float>(i1 > i0 ? 1.0 - f : 1.0);
      t.weights[static_cast<size_t>(o * 2 + 1)] = static_cast<float>(i1 > i0 ? f : 0.0);
    }
  }
  return t;
}

Result<std::string> required_output(const Graph& g, const JsonRef& outputs, const char* key, int* index) {
  *index = -1;
  if (!outputs.ok() || !outputs[key].ok()) return std::string();
  VITRINE_ASSIGN_OR_RETURN(std::string name, outputs[key].as_string());
  const std::vector<std::string>& names = g.output_names();
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] == name) {
      *index = static_cast<int>(i);
      return name;
    }
  }
  return Status::InvalidArgument("tagger: the model has no output named '" + name + "' (" + key + ")");
}

void softmax_rows(const float* logits, int64_t n, int64_t c, float* out) {
  for (int64_t i = 0; i < n; ++i) {
    const float* r = logits + i * c;
    float* o = out + i * c;
    const float m = *std::max_element(r, r + c);
    double sum = 0;
    for (int64_t j = 0; j < c; ++j) sum += (o[j] = std::exp(r[j] - m));
    for (int64_t j = 0; j < c; ++j) o[j] = static_cast<float>(o[j] / sum);
  }
}

// Copies rows of `e` (n, dim) divided by their L2 norms; fails on non-finite or zero rows.
Result<std::vector<float>> normalized_rows(const float* e, int64_t n, int64_t dim) {
  std::vector<float> out(static_cast<size_t>(n * dim));
  for (int64_t i = 0; i < n; ++i) {
    double ss = 0;
    for (int64_t j = 0; j < dim; ++j) {
      const float v = e[i * dim + j];
      if (!std::isfinite(v)) return Status::InvalidArgument("embedding " + std::to_string(i) + " has a non-finite value");
      ss += static_cast<double>(v) * v;
    }
    if (ss <= 0) return Status::InvalidArgument("embedding " + std::to_string(i) + " is all zeros");
    const double inv = 1.0 / std::sqrt(ss);
    for (int64_t j = 0; j < dim; ++j) out[static_cast<size_t>(i * dim + j)] = static_cast<float>(e[i * dim + j] * inv);
  }
  return out;
}

}  // namespace

int64_t pixel_format_channels(PixelFormat f) { return f == PixelFormat::kGray ? 1 : f == PixelFormat::kRgb ? 3 : 4; }

Result<PixelFormat> parse_pixel_format(const std::string& name) {
  if (name == "gray") return PixelFormat::kGray;
  if (name == "rgb") return PixelFormat::kRgb;
  if (name == "rgba") return PixelFormat::kRgba;
  return Status::InvalidArgument("unknown pixel format '" + name + "' (gray, rgb, rgba)");
}

Result<FitMode> parse_fit_mode(const std::string& name) {
  if (name == "letterbox") return FitMode::kLetterbox;
  if (name == "crop") return FitMode::kCrop;
  if (name == "stretch") return FitMode::kStretch;
  return Status::InvalidArgument("unknown fit '" + name + "' (letterbox, crop, stretch)");
}

Result<InvertMode> parse_invert_mode(const std::string& name) {
  if (name == "auto") return InvertMode::kAuto;
  if (name == "never") return InvertMode::kNever;
  if (name == "always") return InvertMode::kAlways;
  return Status::InvalidArgument("unknown invert mode '" + name + "' (auto, never, always)");
}

Status ImageInputSpec::validate() const {
  if (height < 1 || width < 1 || height > 4096 || width > 4096) {
    return Status::InvalidArgument("image input size must be in [1, 4096], got " + std::to_string(height) + "x" +
                                   std::to_string(width));
  }
  if (channels != 1 && channels != 3) return Status::InvalidArgument("image input channels must be 1 or 3");
  if (!mean.empty() && static_cast<int64_t>(mean.size()) != channels) {
    return Status::InvalidArgument("image input mean needs one value per channel");
  }
  if (!std.empty() && static_cast<int64_t>(std.size()) != channels) {
    return Status::InvalidArgument("image input std needs one value per channel");
  }
  for (float s : std) {
    if (!(s > 0) || !std::isfinite(s)) return Status::InvalidArgument("image input std must be positive");
  }
  for (float m : mean) {
    if (!std::isfinite(m)) return Status::InvalidArgument("image input mean must be finite");
  }
  return Status::Ok();
}

Result<ImageInputSpec> ImageInputSpec::from_json(const JsonRef& j) {
  ImageInputSpec s;
  VITRINE_ASSIGN_OR_RETURN(s.height, j["height"].as_int());
  VITRINE_ASSIGN_OR_RETURN(s.width, j["width"].as_int());
  VITRINE_ASSIGN_OR_RETURN(s.channels, j["channels"].as_int());
  for (const char* key : {"mean", "std"}) {
    if (!j[key].ok()) continue;
    VITRINE_ASSIGN_OR_RETURN(const Json::Array* a, j[key].as_array());
    std::vector<float>& dst = std::string(key) == "mean" ? s.mean : s.std;
    for (size_t i = 0; i < a->size(); ++i) {
      VITRINE_ASSIGN_OR_RETURN(double v, j[key][i].as_number());
      dst.push_back(static_cast<float>(v));
    }
  }
  if (j["layout"].ok()) {
    VITRINE_ASSIGN_OR_RETURN(std::string layout, j["layout"].as_string());
    if (layout != "nhwc" && layout != "nchw") return Status::InvalidArgument("input layout must be nhwc or nchw");
    s.nchw = layout == "nchw";
  }
  if (j["background"].ok()) {
    VITRINE_ASSIGN_OR_RETURN(std::string bg, j["background"].as_string());
    if (bg != "dark" && bg != "light") return Status::InvalidArgument("input background must be dark or light");
    s.dark_background = bg == "dark";
  }
  VITRINE_RETURN_IF_ERROR(s.validate());
  return s;
}

Json ImageInputSpec::to_json() const {
  Json::Array m, sd;
  for (float v : mean) m.emplace_back(static_cast<double>(v));
  for (float v : std) sd.emplace_back(static_cast<double>(v));
  return Json::object({{"height", height},
                       {"width", width},
                       {"channels", channels},
                       {"mean", Json::array(std::move(m))},
                       {"std", Json::array(std::move(sd))},
                       {"layout", nchw ? "nchw" : "nhwc"},
                       {"background", dark_background ? "dark" : "light"}});
}

Status preprocess_image(const ImageView& image, const ImageInputSpec& spec, const PreprocessOptions& options, float* out) {
  VITRINE_RETURN_IF_ERROR(spec.validate());
  if (image.pixels == nullptr) return Status::InvalidArgument("image has no pixels");
  if (image.width < 1 || image.height < 1) {
    return Status::InvalidArgument("image is empty (" + std::to_string(image.width) + "x" + std::to_string(image.height) + ")");
  }
  if (image.width > kMaxSide || image.height > kMaxSide) {
    return Status::InvalidArgument("image is larger than " + std::to_string(kMaxSide) + " pixels a side");
  }
  VITRINE_RETURN_IF_ERROR(check_limit("image of " + std::to_string(image.width) + "x" + std::to_string(image.height),
                                      int64_t{image.width} * image.height, "pixels", default_limits().max_image_pixels,
                                      "max_image_pixels"));
  const int64_t src_c = pixel_format_channels(image.format);
  const int64_t row = image.row_bytes ? image.row_bytes : image.width * src_c;
  if (row < image.width * src_c) return Status::InvalidArgument("image row stride is shorter than a row");
  const int64_t w = image.width, h = image.height, c = spec.channels;

  // 1. Source pixels as floats in [0, 255] with the model's channel count (alpha over white).
  std::vector<float> src(static_cast<size_t>(w * h * c));
  for (int64_t y = 0; y < h; ++y) {
    const uint8_t* p = image.pixels + y * row;
    for (int64_t x = 0; x < w; ++x, p += src_c) {
      float rgb[3];
      if (src_c == 1) {
        rgb[0] = rgb[1] = rgb[2] = p[0];
      } else {
        const float a = src_c == 4 ? p[3] / 255.0f : 1.0f;
        for (int k = 0; k < 3; ++k) rgb[k] = p[k] * a + 255.0f * (1.0f - a);
      }
      float* o = src.data() + (y * w + x) * c;
      if (c == 1) {
        o[0] = 0.299f * rgb[0] + 0.587f * rgb[1] + 0.114f * rgb[2];
      } else {
        o[0] = rgb[0];
        o[1] = rgb[1];
        o[2] = rgb[2];
      }
    }
  }

  // 2. Inversion: light-background photos for a dark-background model.
  bool invert = options.invert == InvertMode::kAlways;
  if (options.invert == InvertMode::kAuto && spec.dark_background) {
    double sum = 0;
    int64_t count = 0;
    auto add = [&](int64_t x, int64_t y) {
      const float* o = src.data() + (y * w + x) * c;
      for (int64_t k = 0; k < c; ++k) sum += o[k];
      count += c;
    };
    for (int64_t x = 0; x < w; ++x) {
      add(x, 0);
      if (h > 1) add(x, h - 1);
    }
    for (int64_t y = 1; y + 1 < h; ++y) {
      add(0, y);
      if (w > 1) add(w - 1, y);
    }
    invert = count > 0 && sum / static_cast<double>(count) > 127.5;
  }
  if (invert) {
    for (float& v : src) v = 255.0f - v;
  }

  // 3. Fit: the source window and the destination rectangle.
  const int64_t H = spec.height, W = spec.width;
  double sx = 0, sy = 0, sw = static_cast<double>(w), sh = static_cast<double>(h);
  int64_t dx = 0, dy = 0, dw = W, dh = H;
  if (options.fit == FitMode::kCrop) {
    const double scale = std::max(static_cast<double>(W) / w, static_cast<double>(H) / h);
    sw = W / scale;
    sh = H / scale;
    sx = (w - sw) / 2;
    sy = (h - sh) / 2;
  } else if (options.fit == FitMode::kLetterbox) {
    const double scale = std::min(static_cast<double>(W) / w, static_cast<double>(H) / h);
    dw = std::max<int64_t>(1, std::min<int64_t>(W, static_cast<int64_t>(std::lround(w * scale))));
    dh = std::max<int64_t>(1, std::min<int64_t>(H, static_cast<int64_t>(std::lround(h * scale))));
    dx = (W - dw) / 2;
    dy = (H - dh) / 2;
  }

  // 4. Resample (separable: rows first into (h, dw, c), then columns).
  const Taps tx = make_taps(sx, sw, w, dw), ty = make_taps(sy, sh, h, dh);
  std::vector<float> mid(static_cast<size_t>(h * dw * c), 0.0f);
  for (int64_t y = 0; y < h; ++y) {
    for (int64_t x = 0; x < dw; ++x) {
      float* o = mid.data() + (y * dw + x) * c;
      const int64_t f = tx.first[static_cast<size_t>(x)], n = tx.count[static_cast<size_t>(x)];
      for (int64_t t = 0; t < n; ++t) {
        const float wt = tx.weights[static_cast<size_t>(x * tx.max_taps + t)];
        const float* s = src.data() + (y * w + f + t) * c;
        for (int64_t k = 0; k < c; ++k) o[k] += wt * s[k];
      }
    }
  }
  const float background = spec.dark_background ? 0.0f : 255.0f;
  std::vector<float> dst(static_cast<size_t>(H * W * c), background);
  for (int64_t y = 0; y < dh; ++y) {
    const int64_t f = ty.first[static_cast<size_t>(y)], n = ty.count[static_cast<size_t>(y)];
    for (int64_t x = 0; x < dw; ++x) {
      float* o = dst.data() + ((y + dy) * W + x + dx) * c;
      for (int64_t k = 0; k < c; ++k) o[k] = 0;
      for (int64_t t = 0; t < n; ++t) {
        const float wt = ty.weights[static_cast<size_t>(y * ty.max_taps + t)];
        const float* s = mid.data() + ((f + t) * dw + x) * c;
        for (int64_t k = 0; k < c; ++k) o[k] += wt * s[k];
      }
    }
  }

  // 5. Normalize into the model's layout.
  for (int64_t k = 0; k < c; ++k) {
    const float mean = spec.mean.empty() ? 0.0f : spec.mean[static_cast<size_t>(k)];
    const float inv = spec.std.empty() ? 1.0f : 1.0f / spec.std[static_cast<size_t>(k)];
    for (int64_t i = 0; i < H * W; ++i) {
      const float v = (std::min(255.0f, std::max(0.0f, dst[static_cast<size_t>(i * c + k)])) / 255.0f - mean) * inv;
      out[spec.nchw ? k * H * W + i : i * c + k] = v;
    }
  }
  return Status::Ok();
}

// ---- ImageTagger --------------------------------------------------------------------------------

ImageTagger::~ImageTagger() = default;

Result<std::unique_ptr<ImageTagger>> ImageTagger::create(const LoadedModel& model, Context* ctx, const Json* description) {
  if (!model.graph) return Status::InvalidArgument("tagger: no model");
  if (ctx == nullptr) return Status::InvalidArgument("tagger: no context");
  VITRINE_RETURN_IF_ERROR(require_f32(*model.graph, "tagger"));
  Json parsed;
  if (description == nullptr) {
    auto it = model.metadata.find("tagger");
    if (it == model.metadata.end()) {
      return Status::InvalidArgument("tagger: the model file has no \"tagger\" metadata; describe its input and outputs");
    }
    VITRINE_ASSIGN_OR_RETURN(parsed, parse_json(it->second));
    description = &parsed;
  }
  const JsonRef d = description->ref("tagger");
  std::unique_ptr<ImageTagger> t(new ImageTagger());
  t->graph_ = model.graph;
  t->ctx_ = ctx;
  VITRINE_ASSIGN_OR_RETURN(t->input_, ImageInputSpec::from_json(d["input"]));
  if (model.graph->inputs().size() != 1) return Status::InvalidArgument("tagger: the model must have exactly one input");
  const Shape& in = model.graph->value(model.graph->inputs()[0]).shape;
  const Shape want = t->input_.nchw ? Shape{in[0], t->input_.channels, t->input_.height, t->input_.width}
                                    : Shape{in[0], t->input_.height, t->input_.width, t->input_.channels};
  if (in.rank() != 4 || in != want) {
    return Status::InvalidArgument("tagger: the model's input " + in.to_string() + " does not match the described input " +
                                   want.to_string());
  }
  if (d["labels"].ok()) {
    VITRINE_ASSIGN_OR_RETURN(const Json::Array* labels, d["labels"].as_array());
    for (size_t i = 0; i < labels->size(); ++i) {
      VITRINE_ASSIGN_OR_RETURN(std::string l, d["labels"][i].as_string());
      t->labels_.push_back(std::move(l));
    }
  }
  if (d["groups"].ok()) {
    VITRINE_ASSIGN_OR_RETURN(const Json::Array* groups, d["groups"].as_array());
    for (size_t i = 0; i < groups->size(); ++i) {
      TagGroupSpec g;
      VITRINE_ASSIGN_OR_RETURN(g.name, d["groups"][i]["name"].as_string());
      VITRINE_ASSIGN_OR_RETURN(const Json::Array* members, d["groups"][i]["members"].as_array());
      for (size_t m = 0; m < members->size(); ++m) {
        VITRINE_ASSIGN_OR_RETURN(int64_t v, d["groups"][i]["members"][m].as_int());
        if (v < 0 || v >= static_cast<int64_t>(t->labels_.size())) {
          return Status::InvalidArgument("tagger: group " + g.name + " names class " + std::to_string(v));
        }
        g.members.push_back(static_cast<int32_t>(v));
      }
      t->groups_.push_back(std::move(g));
    }
  }
  const JsonRef outs = d["outputs"];
  int logits = -1, probs = -1;
  VITRINE_RETURN_IF_ERROR(required_output(*model.graph, outs, "logits", &logits).status());
  VITRINE_RETURN_IF_ERROR(required_output(*model.graph, outs, "probabilities", &probs).status());
  VITRINE_RETURN_IF_ERROR(required_output(*model.graph, outs, "embedding", &t->embedding_).status());
  VITRINE_RETURN_IF_ERROR(required_output(*model.graph, outs, "groups", &t->groups_out_).status());
  t->classes_ = logits >= 0 ? logits : probs;
  t->classes_are_logits_ = logits >= 0;
  if (!outs.ok() && model.graph->outputs().size() == 1) t->embedding_ = 0;  // a feature extractor
  if (t->classes_ < 0 && t->embedding_ < 0) return Status::InvalidArgument("tagger: the model has neither logits nor an embedding output");
  if (t->classes_ >= 0 && t->labels_.empty()) return Status::InvalidArgument("tagger: class outputs need labels");
  if (t->groups_out_ >= 0 && t->groups_.empty()) return Status::InvalidArgument("tagger: a groups output needs groups");
  // Shapes of one image's outputs.
  std::vector<Shape> shapes;
  VITRINE_ASSIGN_OR_RETURN(Shape one, Shape::make([&] {
                             std::vector<int64_t> v = in.to_vector();
                             v[0] = 1;
                             return v;
                           }()));
  VITRINE_ASSIGN_OR_RETURN(shapes, model.graph->infer_shapes({one}));
  auto width = [&](int index) {  // elements of one image's output `index`
    return shapes[static_cast<size_t>(model.graph->outputs()[static_cast<size_t>(index)])].num_elements();
  };
  if (t->classes_ >= 0 && width(t->classes_) != static_cast<int64_t>(t->labels_.size())) {
    return Status::InvalidArgument("tagger: " + std::to_string(t->labels_.size()) + " labels but the class output has " +
                                   std::to_string(width(t->classes_)) + " values");
  }
  if (t->groups_out_ >= 0 && width(t->groups_out_) != static_cast<int64_t>(t->groups_.size())) {
    return Status::InvalidArgument("tagger: the groups output's width differs from the number of groups");
  }
  if (t->embedding_ >= 0) t->embedding_dim_ = width(t->embedding_);
  VITRINE_ASSIGN_OR_RETURN(t->executor_, Executor::create(model.graph, ctx));
  return t;
}

Status ImageTagger::run(const float* x, int64_t n, std::vector<float>* probabilities, std::vector<float>* groups,
                        std::vector<float>* embeddings) {
  if (n < 1) return Status::InvalidArgument("tagger: no images");
  const ImageInputSpec& s = input_;
  const Shape shape = s.nchw ? Shape{n, s.channels, s.height, s.width} : Shape{n, s.height, s.width, s.channels};
  for (int64_t i = 0; i < shape.num_elements(); ++i) {
    if (!std::isfinite(x[i])) return Status::InvalidArgument("tagger: input has a non-finite value");
  }
  std::vector<Tensor> outs;
  VITRINE_RETURN_IF_ERROR(executor_->run({Tensor::wrap(shape, const_cast<float*>(x))}, &outs));
  if (probabilities) {
    probabilities->clear();
    const int64_t c = static_cast<int64_t>(labels_.size());
    if (classes_ >= 0) {
      const float* p = outs[static_cast<size_t>(classes_)].data();
      if (classes_are_logits_) {
        probabilities->resize(static_cast<size_t>(n * c));
        softmax_rows(p, n, c, probabilities->data());
      } else {
        probabilities->assign(p, p + n * c);
      }
    }
  }
  if (groups) {
    groups->clear();
    if (groups_out_ >= 0) {
      const float* p = outs[static_cast<size_t>(groups_out_)].data();
      groups->assign(p, p + n * static_cast<int64_t>(groups_.size()));
    }
  }
  if (embeddings) {
    embeddings->clear();
    if (embedding_ >= 0) {
      const float* p = outs[static_cast<size_t>(embedding_)].data();
      embeddings->assign(p, p + n * embedding_dim_);
    }
  }
  return Status::Ok();
}

// ---- TagHead ------------------------------------------------------------------------------------

TagHeadTrainer::~TagHeadTrainer() = default;

Result<std::unique_ptr<TagHeadTrainer>> TagHeadTrainer::create(const float* embeddings, int64_t n, int64_t dim,
                                                               const std::vector<int32_t>& labels,
                                                               const std::vector<std::string>& tags,
                                                               const HeadTrainOptions& o, Context* ctx) {
  const int64_t k = static_cast<int64_t>(tags.size());
  if (k < 2) return Status::InvalidArgument("a tag head needs examples of at least two tags");
  if (n < 1 || dim < 1 || embeddings == nullptr) return Status::InvalidArgument("a tag head needs examples");
  if (static_cast<int64_t>(labels.size()) != n) return Status::InvalidArgument("one label per example is needed");
  if (o.steps < 1 || !(o.learning_rate > 0) || !(o.weight_decay >= 0)) return Status::InvalidArgument("bad head training options");
  std::vector<int64_t> per_tag(static_cast<size_t>(k), 0);
  for (int32_t l : labels) {
    if (l < 0 || l >= k) return Status::InvalidArgument("label " + std::to_string(l) + " out of range");
    ++per_tag[static_cast<size_t>(l)];
  }
  for (int64_t t = 0; t < k; ++t) {
    if (per_tag[static_cast<size_t>(t)] == 0) return Status::InvalidArgument("tag '" + tags[static_cast<size_t>(t)] + "' has no examples");
  }
  std::unique_ptr<TagHeadTrainer> h(new TagHeadTrainer());
  VITRINE_ASSIGN_OR_RETURN(h->x_, normalized_rows(embeddings, n, dim));
  h->graph_ = std::make_shared<Graph>();
  Graph& g = *h->graph_;
  VITRINE_ASSIGN_OR_RETURN(int in, g.add_input("embedding", Shape{n, dim}));
  VITRINE_ASSIGN_OR_RETURN(Tensor w, Tensor::zeros(Shape{k, dim}));
  VITRINE_ASSIGN_OR_RETURN(Tensor b, Tensor::zeros(Shape{k}));
  VITRINE_ASSIGN_OR_RETURN(int wv, g.add_constant("head.w", std::move(w)));
  VITRINE_ASSIGN_OR_RETURN(int bv, g.add_constant("head.b", std::move(b)));
  VITRINE_ASSIGN_OR_RETURN(int logits, g.add(OpType::kDense, "head", {in, wv, bv}));
  VITRINE_RETURN_IF_ERROR(g.add_output(logits, "logits"));
  TrainerOptions to;
  to.loss.type = LossType::kSoftmaxCrossEntropy;
  to.optimizer.type = "adam";
  to.optimizer.learning_rate = o.learning_rate;
  to.optimizer.weight_decay = o.weight_decay;
  VITRINE_ASSIGN_OR_RETURN(h->trainer_, Trainer::create(h->graph_, ctx, to));
  VITRINE_ASSIGN_OR_RETURN(h->target_, Tensor::zeros(Shape{n}));
  for (int64_t i = 0; i < n; ++i) h->target_.mutable_data()[i] = static_cast<float>(labels[static_cast<size_t>(i)]);
  h->tags_ = tags;
  h->n_ = n;
  h->dim_ = dim;
  h->total_ = o.steps;
  return h;
}

Result<double> TagHeadTrainer::run(int64_t steps) {
  const Tensor input = Tensor::wrap(Shape{n_, dim_}, x_.data());
  for (int64_t s = 0; s < steps && done_ < total_; ++s) {
    VITRINE_ASSIGN_OR_RETURN(loss_, trainer_->step({input}, target_));
    if (!std::isfinite(loss_)) return Status::FailedPrecondition("head training diverged");
    ++done_;
  }
  return loss_;
}

Result<std::unique_ptr<TagHead>> TagHeadTrainer::head() const {
  std::unique_ptr<TagHead> h(new TagHead());
  const int64_t k = static_cast<int64_t>(tags_.size());
  VITRINE_ASSIGN_OR_RETURN(int wv, graph_->find("head.w"));
  VITRINE_ASSIGN_OR_RETURN(int bv, graph_->find("head.b"));
  const Tensor& tw = graph_->value(wv).constant;
  const Tensor& tb = graph_->value(bv).constant;
  h->tags_ = tags_;
  h->dim_ = dim_;
  h->w_.assign(tw.data(), tw.data() + k * dim_);
  h->b_.assign(tb.data(), tb.data() + k);
  return h;
}

Result<std::unique_ptr<TagHead>> TagHead::train(const float* embeddings, int64_t n, int64_t dim,
                                                const std::vector<int32_t>& labels, const std::vector<std::string>& tags,
                                                const HeadTrainOptions& o, Context* ctx, const HeadProgressFn& progress) {
  VITRINE_ASSIGN_OR_RETURN(std::unique_ptr<TagHeadTrainer> t, TagHeadTrainer::create(embeddings, n, dim, labels, tags, o, ctx));
  while (t->steps_done() < t->steps_total()) {
    VITRINE_ASSIGN_OR_RETURN(double loss, t->run(1));
    if (progress && !progress(t->steps_done(), t->steps_total(), loss)) return Status::Cancelled("head training cancelled");
  }
  return t->head();
}

Result<std::unique_ptr<TagHead>> TagHead::load(std::shared_ptr<const std::vector<uint8_t>> bytes) {
  VITRINE_ASSIGN_OR_RETURN(LoadedModel m, load_model(std::move(bytes)));
  auto it = m.metadata.find("tag_head");
  if (it == m.metadata.end()) return Status::InvalidArgument("not a tag head file (no \"tag_head\" metadata)");
  VITRINE_ASSIGN_OR_RETURN(Json meta, parse_json(it->second));
  const JsonRef j = meta.ref("tag_head");
  std::unique_ptr<TagHead> h(new TagHead());
  VITRINE_ASSIGN_OR_RETURN(const Json::Array* tags, j["tags"].as_array());
  for (size_t i = 0; i < tags->size(); ++i) {
    VITRINE_ASSIGN_OR_RETURN(std::string t, j["tags"][i].as_string());
    h->tags_.push_back(std::move(t));
  }
  VITRINE_ASSIGN_OR_RETURN(int wv, m.graph->find("head.w"));
  VITRINE_ASSIGN_OR_RETURN(int bv, m.graph->find("head.b"));
  const Tensor& w = m.graph->value(wv).constant;
  const Tensor& b = m.graph->value(bv).constant;
  const int64_t k = static_cast<int64_t>(h->tags_.size());
  if (k < 2 || w.shape().rank() != 2 || w.shape()[0] != k || b.shape() != Shape{k}) {
    return Status::DataLoss("tag head: weights (" + w.shape().to_string() + ") disagree with " + std::to_string(k) + " tags");
  }
  h->dim_ = w.shape()[1];
  h->w_.assign(w.data(), w.data() + w.num_elements());
  h->b_.assign(b.data(), b.data() + k);
  for (float v : h->w_) {
    if (!std::isfinite(v)) return Status::DataLoss("tag head: non-finite weight");
  }
  return h;
}

Result<std::vector<uint8_t>> TagHead::save() const {
  const int64_t k = static_cast<int64_t>(tags_.size());
  Graph g;
  VITRINE_ASSIGN_OR_RETURN(int in, g.add_input("embedding", Shape{1, dim_}));
  VITRINE_ASSIGN_OR_RETURN(Tensor w, Tensor::from_values(Shape{k, dim_}, w_.data(), w_.size()));
  VITRINE_ASSIGN_OR_RETURN(Tensor b, Tensor::from_values(Shape{k}, b_.data(), b_.size()));
  VITRINE_ASSIGN_OR_RETURN(int wv, g.add_constant("head.w", std::move(w)));
  VITRINE_ASSIGN_OR_RETURN(int bv, g.add_constant("head.b", std::move(b)));
  VITRINE_ASSIGN_OR_RETURN(int logits, g.add(OpType::kDense, "head", {in, wv, bv}));
  VITRINE_RETURN_IF_ERROR(g.add_output(logits, "logits"));
  Json::Array tags;
  for (const std::string& t : tags_) tags.emplace_back(t);
  return save_model(g, {{"task", "tag_head"},
                        {"tag_head", Json::object({{"tags", Json::array(std::move(tags))}, {"normalize", true}}).dump()}});
}

Status TagHead::predict(const float* embeddings, int64_t n, std::vector<float>* probabilities) const {
  VITRINE_ASSIGN_OR_RETURN(std::vector<float> x, normalized_rows(embeddings, n, dim_));
  const int64_t k = static_cast<int64_t>(tags_.size());
  std::vector<float> logits(static_cast<size_t>(n * k));
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t t = 0; t < k; ++t) {
      double s = b_[static_cast<size_t>(t)];
      for (int64_t j = 0; j < dim_; ++j) s += static_cast<double>(w_[static_cast<size_t>(t * dim_ + j)]) * x[static_cast<size_t>(i * dim_ + j)];
      logits[static_cast<size_t>(i * k + t)] = static_cast<float>(s);
    }
  }
  probabilities->resize(static_cast<size_t>(n * k));
  softmax_rows(logits.data(), n, k, probabilities->data());
  return Status::Ok();
}

// ---- EmbeddingIndex -----------------------------------------------------------------------------

Status EmbeddingIndex::add(const std::string& id, const float* embedding) {
  if (id.empty()) return Status::InvalidArgument("catalogue ids must not be empty");
  VITRINE_ASSIGN_OR_RETURN(std::vector<float> row, normalized_rows(embedding, 1, dim_));
  for (size_t i = 0; i < ids_.size(); ++i) {
    if (ids_[i] == id) {
      std::copy(row.begin(), row.end(), rows_.begin() + static_cast<std::ptrdiff_t>(i * static_cast<size_t>(dim_)));
      return Status::Ok();
    }
  }
  ids_.push_back(id);
  rows_.insert(rows_.end(), row.begin(), row.end());
  return Status::Ok();
}

Status EmbeddingIndex::remove(const std::string& id) {
  for (size_t i = 0; i < ids_.size(); ++i) {
    if (ids_[i] != id) continue;
    ids_.erase(ids_.begin() + static_cast<std::ptrdiff_t>(i));
    const auto at = rows_.begin() + static_cast<std::ptrdiff_t>(i * static_cast<size_t>(dim_));
    rows_.erase(at, at + dim_);
    return Status::Ok();
  }
  return Status::NotFound("no catalogue item '" + id + "'");
}

Result<std::vector<ScoredItem>> EmbeddingIndex::search(const float* query, int64_t k, const std::string& exclude_id) const {
  if (k < 1) return Status::InvalidArgument("k must be >= 1");
  VITRINE_ASSIGN_OR_RETURN(std::vector<float> q, normalized_rows(query, 1, dim_));
  const int64_t n = size();
  std::vector<float> scores(static_cast<size_t>(n));
  std::vector<uint8_t> excluded(static_cast<size_t>(n), 0);
  for (int64_t i = 0; i < n; ++i) {
    const float* r = rows_.data() + i * dim_;
    float s = 0;
    for (int64_t j = 0; j < dim_; ++j) s += r[j] * q[static_cast<size_t>(j)];
    scores[static_cast<size_t>(i)] = s;
    if (!exclude_id.empty() && ids_[static_cast<size_t>(i)] == exclude_id) excluded[static_cast<size_t>(i)] = 1;
  }
  return top_k(scores.data(), n, k, excluded.data());
}

// ---- tags ----------------------------------------------------------------------------------------

const char* tag_kind_name(TagKind kind) {
  switch (kind) {
    case TagKind::kClass: return "class";
    case TagKind::kGroup: return "group";
    case TagKind::kCustom: return "custom";
  }
  return "class";
}

Status TagRequest::validate() const {
  if (top_k < 1) return Status::InvalidArgument("topK must be a positive integer, got " + std::to_string(top_k));
  if (!(threshold >= 0 && threshold <= 1)) return Status::InvalidArgument("threshold must be in [0, 1], got " + std::to_string(threshold));
  return Status::Ok();
}

std::vector<std::vector<Tag>> merge_tags(int64_t n, const float* const scores[3], const std::vector<std::string>* const names[3],
                                         const TagRequest& r) {
  std::vector<std::vector<Tag>> out(static_cast<size_t>(n));
  std::vector<int32_t> order;
  for (int64_t i = 0; i < n; ++i) {
    std::vector<Tag>& tags = out[static_cast<size_t>(i)];
    for (int kind = 0; kind < 3; ++kind) {
      if (scores[kind] == nullptr || names[kind] == nullptr || names[kind]->empty()) continue;
      const int64_t m = static_cast<int64_t>(names[kind]->size());
      const float* row = scores[kind] + i * m;
      order.resize(static_cast<size_t>(m));
      std::iota(order.begin(), order.end(), 0);
      std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return row[a] > row[b]; });
      for (int64_t j = 0; j < std::min(m, r.top_k); ++j) {
        const int32_t c = order[static_cast<size_t>(j)];
        if (row[c] >= r.threshold) tags.push_back({(*names[kind])[static_cast<size_t>(c)], row[c], static_cast<TagKind>(kind)});
      }
    }
    std::stable_sort(tags.begin(), tags.end(), [](const Tag& a, const Tag& b) { return a.score > b.score; });
  }
  return out;
}

Result<std::vector<std::vector<Tag>>> ImageTagger::tag(const float* x, int64_t n, const TagHead* head, const TagRequest& r) {
  VITRINE_RETURN_IF_ERROR(r.validate());
  if (head != nullptr && !has_embedding()) return Status::FailedPrecondition("custom tags need the model's embedding output");
  if (head != nullptr && head->dim() != embedding_dim_) {
    return Status::InvalidArgument("the head expects " + std::to_string(head->dim()) + "-d embeddings, this tagger makes " +
                                   std::to_string(embedding_dim_));
  }
  std::vector<float> probs, groups, emb, custom;
  VITRINE_RETURN_IF_ERROR(run(x, n, &probs, &groups, head != nullptr ? &emb : nullptr));
  if (head != nullptr) VITRINE_RETURN_IF_ERROR(head->predict(emb.data(), n, &custom));
  std::vector<std::string> group_names;
  for (const TagGroupSpec& g : groups_) group_names.push_back(g.name);
  const float* scores[3] = {probs.empty() ? nullptr : probs.data(), groups.empty() ? nullptr : groups.data(),
                            custom.empty() ? nullptr : custom.data()};
  const std::vector<std::string>* names[3] = {&labels_, &group_names, head != nullptr ? &head->tags() : nullptr};
  return merge_tags(n, scores, names, r);
}

Result<std::vector<std::vector<Tag>>> TagHead::classify(const float* embeddings, int64_t n, const TagRequest& r) const {
  VITRINE_RETURN_IF_ERROR(r.validate());
  std::vector<float> p;
  VITRINE_RETURN_IF_ERROR(predict(embeddings, n, &p));
  const float* scores[3] = {nullptr, nullptr, p.data()};
  const std::vector<std::string>* names[3] = {nullptr, nullptr, &tags_};
  return merge_tags(n, scores, names, r);
}

}  // namespace vitrine
