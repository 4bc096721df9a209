// Training the default image tagger (tag_train.h) with the engine's graph + Trainer.
#include "vitrine/tag_train.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <numeric>
#include <random>

#include "vitrine/graph.h"
#include "vitrine/json.h"
#include "vitrine/train.h"
#include "train_util.h"

namespace vitrine {
namespace {

using train_util::Rng;

Result<std::vector<uint8_t>> read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return Status::NotFound("cannot open " + path);
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

uint32_t be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

// U(-scale, scale) initial weights.
Result<Tensor> filled(const Shape& shape, Rng& rng, double scale) { return train_util::random_tensor(shape, rng, scale, true); }

Result<Tensor> ones(int64_t n) {
  VITRINE_ASSIGN_OR_RETURN(Tensor t, Tensor::zeros(Shape{n}));
  std::fill(t.mutable_data(), t.mutable_data() + n, 1.0f);
  return t;
}

using train_util::constant_copy;

Status check(const ImageSet& train, const ImageSet& val, const TagTrainOptions& o) {
  const int64_t classes = static_cast<int64_t>(o.labels.size());
  if (classes < 2) return Status::InvalidArgument("tagger training needs at least two labels");
  for (int64_t w : o.widths) {
    if (w < 1 || w > 4096) return Status::InvalidArgument("conv widths must be in [1, 4096]");
  }
  if (o.embedding_dim < 1 || o.epochs < 1 || o.batch_size < 1) {
    return Status::InvalidArgument("embedding_dim, epochs and batch_size must be positive");
  }
  if (!(o.dropout >= 0 && o.dropout < 1)) return Status::InvalidArgument("dropout must be in [0, 1)");
  if (!(o.learning_rate > 0) || !(o.weight_decay >= 0)) return Status::InvalidArgument("bad learning rate or weight decay");
  if (o.shift < 0) return Status::InvalidArgument("shift must be >= 0");
  const int64_t pooled = int64_t{1} << o.widths.size();
  for (const ImageSet* s : {&train, &val}) {
    if (s->count < 1) return Status::InvalidArgument("tagger training needs non-empty training and validation sets");
    if (s->height != train.height || s->width != train.width || s->channels != train.channels) {
      return Status::InvalidArgument("training and validation images differ in size");
    }
    if (s->pixels.size() != static_cast<size_t>(s->count * s->height * s->width * s->channels) ||
        s->labels.size() != static_cast<size_t>(s->count)) {
      return Status::InvalidArgument("image set sizes disagree with its count");
    }
    for (int32_t l : s->labels) {
      if (l < 0 || l >= classes) return Status::InvalidArgument("label " + std::to_string(l) + " out of range");
    }
  }
  if (train.height % pooled || train.width % pooled) {
    return Status::InvalidArgument("image size must be divisible by 2^(number of conv blocks)");
  }
  for (const TagGroup& gr : o.groups) {
    if (gr.name.empty() || gr.members.empty()) return Status::InvalidArgument("a group needs a name and members");
    for (int32_t m : gr.members) {
      if (m < 0 || m >= classes) return Status::InvalidArgument("group " + gr.name + " names class " + std::to_string(m));
    }
  }
  return Status::Ok();
}

// Mean and standard deviation of all pixels (scaled to [0, 1]).
void pixel_stats(const ImageSet& s, double* mean, double* std) {
  double sum = 0, sq = 0;
  for (uint8_t p : s.pixels) {
    const double v = p / 255.0;
    sum += v;
    sq += v * v;
  }
  const double n = static_cast<double>(s.pixels.size());
  *mean = sum / n;
  *std = std::sqrt(std::max(sq / n - *mean * *mean, 1e-12));
}

// Writes image i of `s`, normalized, shifted by (dy, dx) with zero (background) fill and optionally
// mirrored, into `out` (H, W, C).
void put_image(const ImageSet& s, int64_t i, int64_t dy, int64_t dx, bool flip, float mean, float inv_std, float* out) {
  const int64_t h = s.height, w = s.width, c = s.channels;
  const uint8_t* src = s.pixels.data() + i * h * w * c;
  const float background = (0.0f - mean) * inv_std;
  for (int64_t y = 0; y < h; ++y) {
    for (int64_t x = 0; x < w; ++x) {
      const int64_t sy = y - dy, sx0 = x - dx;
      const int64_t sx = flip ? w - 1 - sx0 : sx0;
      float* o = out + (y * w + x) * c;
      if (sy < 0 || sy >= h || sx0 < 0 || sx0 >= w) {
        for (int64_t k = 0; k < c; ++k) o[k] = background;
      } else {
        const uint8_t* p = src + (sy * w + sx) * c;
        for (int64_t k = 0; k < c; ++k) o[k] = (static_cast<float>(p[k]) * (1.0f / 255.0f) - mean) * inv_std;
      }
    }
  }
}

struct Net {
  std::shared_ptr<Graph> graph;
  std::vector<std::string> convs;  // conv names in order; each has .w .b and a batch norm "<name>.bn"
};

Status add_bn(Graph& g, const std::string& name, int64_t c, int* x) {
  VITRINE_ASSIGN_OR_RETURN(Tensor s, ones(c));
  VITRINE_ASSIGN_OR_RETURN(Tensor b, Tensor::zeros(Shape{c}));
  VITRINE_ASSIGN_OR_RETURN(Tensor m, Tensor::zeros(Shape{c}));
  VITRINE_ASSIGN_OR_RETURN(Tensor v, ones(c));
  VITRINE_ASSIGN_OR_RETURN(int sv, g.add_constant(name + ".scale", std::move(s)));
  VITRINE_ASSIGN_OR_RETURN(int bv, g.add_constant(name + ".bias", std::move(b)));
  VITRINE_ASSIGN_OR_RETURN(int mv, g.add_constant(name + ".mean", std::move(m)));
  VITRINE_ASSIGN_OR_RETURN(int vv, g.add_constant(name + ".var", std::move(v)));
  VITRINE_ASSIGN_OR_RETURN(*x, g.add(OpType::kBatchNorm, name, {*x, sv, bv, mv, vv}));
  return Status::Ok();
}

// The training graph (see tag_train.h); output 0: logits (B, classes).
Result<Net> build_training_graph(const ImageSet& train, const TagTrainOptions& o, Rng& rng) {
  Net net;
  net.graph = std::make_shared<Graph>();
  Graph& g = *net.graph;
  VITRINE_ASSIGN_OR_RETURN(int x, g.add_input("image", Shape{o.batch_size, train.height, train.width, train.channels}));
  int64_t c = train.channels, h = train.height, w = train.width;
  OpAttrs conv;
  conv.ints["pads"] = {1, 1, 1, 1};
  OpAttrs pool;
  pool.ints["kernel"] = {2, 2};
  for (size_t b = 0; b < o.widths.size(); ++b) {
    for (int k = 0; k < 2; ++k) {
      const std::string name = "conv" + std::to_string(b + 1) + "_" + std::to_string(k + 1);
      const int64_t oc = o.widths[b];
      VITRINE_ASSIGN_OR_RETURN(Tensor wt, filled(Shape{oc, 3, 3, c}, rng, std::sqrt(6.0 / (9.0 * static_cast<double>(c)))));
      VITRINE_ASSIGN_OR_RETURN(Tensor bt, Tensor::zeros(Shape{oc}));
      VITRINE_ASSIGN_OR_RETURN(int wv, g.add_constant(name + ".w", std::move(wt)));
      VITRINE_ASSIGN_OR_RETURN(int bv, g.add_constant(name + ".b", std::move(bt)));
      VITRINE_ASSIGN_OR_RETURN(x, g.add(OpType::kConv2D, name, {x, wv, bv}, conv));
      VITRINE_RETURN_IF_ERROR(add_bn(g, name + ".bn", oc, &x));
      VITRINE_ASSIGN_OR_RETURN(x, g.add(OpType::kRelu, name + ".relu", {x}));
      net.convs.push_back(name);
      c = oc;
    }
    VITRINE_ASSIGN_OR_RETURN(x, g.add(OpType::kMaxPool2D, "pool" + std::to_string(b + 1), {x}, pool));
    h /= 2;
    w /= 2;
  }
  OpAttrs flat;
  flat.numbers["axis"] = 1;
  VITRINE_ASSIGN_OR_RETURN(x, g.add(OpType::kFlatten, "flat", {x}, flat));
  const int64_t features = h * w * c, e = o.embedding_dim, classes = static_cast<int64_t>(o.labels.size());
  VITRINE_ASSIGN_OR_RETURN(Tensor ew, filled(Shape{e, features}, rng, std::sqrt(6.0 / static_cast<double>(features))));
  VITRINE_ASSIGN_OR_RETURN(Tensor eb, Tensor::zeros(Shape{e}));
  VITRINE_ASSIGN_OR_RETURN(int ewv, g.add_constant("embed.w", std::move(ew)));
  VITRINE_ASSIGN_OR_RETURN(int ebv, g.add_constant("embed.b", std::move(eb)));
  VITRINE_ASSIGN_OR_RETURN(x, g.add(OpType::kDense, "embed", {x, ewv, ebv}));
  VITRINE_RETURN_IF_ERROR(add_bn(g, "embed.bn", e, &x));
  VITRINE_ASSIGN_OR_RETURN(x, g.add(OpType::kRelu, "embed.relu", {x}));
  if (o.dropout > 0) {
    OpAttrs da;
    da.numbers["rate"] = o.dropout;
    da.numbers["seed"] = static_cast<double>(o.seed % 1000003u);
    VITRINE_ASSIGN_OR_RETURN(x, g.add(OpType::kDropout, "drop", {x}, da));
  }
  VITRINE_ASSIGN_OR_RETURN(Tensor cw, filled(Shape{classes, e}, rng, std::sqrt(6.0 / static_cast<double>(e + classes))));
  VITRINE_ASSIGN_OR_RETURN(Tensor cb, Tensor::zeros(Shape{classes}));
  VITRINE_ASSIGN_OR_RETURN(int cwv, g.add_constant("classes.w", std::move(cw)));
  VITRINE_ASSIGN_OR_RETURN(int cbv, g.add_constant("classes.b", std::move(cb)));
  VITRINE_ASSIGN_OR_RETURN(x, g.add(OpType::kDense, "classes", {x, cwv, cbv}));
  VITRINE_RETURN_IF_ERROR(g.add_output(x, "logits"));
  return net;
}

// Folds batch norm `bn` (over the output channels = dimension 0 of w) into weights w (O, ...) and b (O).
Status fold_bn(const Graph& train, const std::string& bn, Tensor* w, Tensor* b) {
  VITRINE_ASSIGN_OR_RETURN(Tensor s, constant_copy(train, bn + ".scale"));
  VITRINE_ASSIGN_OR_RETURN(Tensor t, constant_copy(train, bn + ".bias"));
  VITRINE_ASSIGN_OR_RETURN(Tensor m, constant_copy(train, bn + ".mean"));
  VITRINE_ASSIGN_OR_RETURN(Tensor v, constant_copy(train, bn + ".var"));
  const int64_t o = w->shape()[0], per = w->num_elements() / o;
  float* wp = w->mutable_data();
  float* bp = b->mutable_data();
  for (int64_t i = 0; i < o; ++i) {
    const double k = s.data()[i] / std::sqrt(static_cast<double>(v.data()[i]) + 1e-5);
    for (int64_t j = 0; j < per; ++j) wp[i * per + j] = static_cast<float>(wp[i * per + j] * k);
    bp[i] = static_cast<float>((bp[i] - m.data()[i]) * k + t.data()[i]);
  }
  return Status::Ok();
}

Json metadata_json(const ImageSet& train, const TagTrainOptions& o, double mean, double std) {
  Json::Array labels;
  for (const std::string& l : o.labels) labels.emplace_back(l);
  Json::Array groups;
  for (const TagGroup& gr : o.groups) {
    Json::Array members;
    for (int32_t m : gr.members) members.emplace_back(static_cast<int64_t>(m));
    groups.push_back(Json::object({{"name", gr.name}, {"members", Json::array(std::move(members))}}));
  }
  Json::Array widths;
  for (int64_t w : o.widths) widths.emplace_back(w);
  Json::Array means, stds;
  for (int64_t k = 0; k < train.channels; ++k) {
    means.emplace_back(mean);
    stds.emplace_back(std);
  }
  Json::Object input = {{"height", train.height},     {"width", train.width},
                        {"channels", train.channels}, {"mean", Json::array(std::move(means))},
                        {"std", Json::array(std::move(stds))}, {"background", "dark"}};
  Json::Object training = {{"widths", Json::array(std::move(widths))},
                           {"embedding_dim", o.embedding_dim},
                           {"dropout", o.dropout},
                           {"epochs", o.epochs},
                           {"batch_size", o.batch_size},
                           {"learning_rate", o.learning_rate},
                           {"weight_decay", o.weight_decay},
                           {"schedule", o.schedule},
                           {"label_smoothing", o.label_smoothing},
                           {"shift", o.shift},
                           {"flip", o.flip},
                           {"seed", static_cast<int64_t>(o.seed)}};
  Json::Object outs = {{"logits", "logits"}, {"embedding", "embedding"}};
  if (!o.groups.empty()) outs.emplace_back("groups", "groups");
  Json::Object m = {{"input", Json::object(std::move(input))},
                    {"labels", Json::array(std::move(labels))},
                    {"outputs", Json::object(std::move(outs))},
                    {"training", Json::object(std::move(training))}};
  if (!o.groups.empty()) m.emplace_back("groups", Json::array(std::move(groups)));
  return Json::object(std::move(m));
}

// The inference graph: batch norms folded, outputs logits, embedding (and groups).
Result<LoadedModel> saved_model(const Net& net, const ImageSet& train, const TagTrainOptions& o, double mean, double std) {
  const Graph& t = *net.graph;
  auto g = std::make_shared<Graph>();
  VITRINE_ASSIGN_OR_RETURN(int x, g->add_input("image", Shape{1, train.height, train.width, train.channels}));
  OpAttrs conv;
  conv.ints["pads"] = {1, 1, 1, 1};
  OpAttrs pool;
  pool.ints["kernel"] = {2, 2};
  size_t k = 0;
  for (size_t b = 0; b < o.widths.size(); ++b) {
    for (int j = 0; j < 2; ++j, ++k) {
      const std::string& name = net.convs[k];
      VITRINE_ASSIGN_OR_RETURN(Tensor w, constant_copy(t, name + ".w"));
      VITRINE_ASSIGN_OR_RETURN(Tensor bias, constant_copy(t, name + ".b"));
      VITRINE_RETURN_IF_ERROR(fold_bn(t, name + ".bn", &w, &bias));
      VITRINE_ASSIGN_OR_RETURN(int wv, g->add_constant(name + ".w", std::move(w)));
      VITRINE_ASSIGN_OR_RETURN(int bv, g->add_constant(name + ".b", std::move(bias)));
      VITRINE_ASSIGN_OR_RETURN(x, g->add(OpType::kConv2D, name, {x, wv, bv}, conv));
      VITRINE_ASSIGN_OR_RETURN(x, g->add(OpType::kRelu, name + ".relu", {x}));
    }
    VITRINE_ASSIGN_OR_RETURN(x, g->add(OpType::kMaxPool2D, "pool" + std::to_string(b + 1), {x}, pool));
  }
  OpAttrs flat;
  flat.numbers["axis"] = 1;
  VITRINE_ASSIGN_OR_RETURN(x, g->add(OpType::kFlatten, "flat", {x}, flat));
  VITRINE_ASSIGN_OR_RETURN(Tensor ew, constant_copy(t, "embed.w"));
  VITRINE_ASSIGN_OR_RETURN(Tensor eb, constant_copy(t, "embed.b"));
  VITRINE_RETURN_IF_ERROR(fold_bn(t, "embed.bn", &ew, &eb));
  VITRINE_ASSIGN_OR_RETURN(int ewv, g->add_constant("embed.w", std::move(ew)));
  VITRINE_ASSIGN_OR_RETURN(int ebv, g->add_constant("embed.b", std::move(eb)));
  VITRINE_ASSIGN_OR_RETURN(x, g->add(OpType::kDense, "embed", {x, ewv, ebv}));
  VITRINE_ASSIGN_OR_RETURN(int emb, g->add(OpType::kRelu, "embedding", {x}));
  VITRINE_ASSIGN_OR_RETURN(Tensor cw, constant_copy(t, "classes.w"));
  VITRINE_ASSIGN_OR_RETURN(Tensor cb, constant_copy(t, "classes.b"));
  VITRINE_ASSIGN_OR_RETURN(int cwv, g->add_constant("classes.w", std::move(cw)));
  VITRINE_ASSIGN_OR_RETURN(int cbv, g->add_constant("classes.b", std::move(cb)));
  VITRINE_ASSIGN_OR_RETURN(int logits, g->add(OpType::kDense, "classes", {emb, cwv, cbv}));
  VITRINE_RETURN_IF_ERROR(g->add_output(logits, "logits"));
  VITRINE_RETURN_IF_ERROR(g->add_output(emb, "embedding"));
  if (!o.groups.empty()) {
    const int64_t classes = static_cast<int64_t>(o.labels.size()), ng = static_cast<int64_t>(o.groups.size());
    VITRINE_ASSIGN_OR_RETURN(Tensor mw, Tensor::zeros(Shape{ng, classes}));  // membership, (G, classes)
    for (int64_t i = 0; i < ng; ++i) {
      for (int32_t m : o.groups[static_cast<size_t>(i)].members) mw.mutable_data()[i * classes + m] = 1.0f;
    }
    VITRINE_ASSIGN_OR_RETURN(int mwv, g->add_constant("groups.membership", std::move(mw)));
    OpAttrs sm;
    sm.numbers["axis"] = -1;
    VITRINE_ASSIGN_OR_RETURN(int probs, g->add(OpType::kSoftmax, "probs", {logits}, sm));
    VITRINE_ASSIGN_OR_RETURN(int groups, g->add(OpType::kDense, "groups", {probs, mwv}));
    VITRINE_RETURN_IF_ERROR(g->add_output(groups, "groups"));
  }
  LoadedModel m;
  m.graph = g;
  m.format = "vitrine";
  m.metadata["task"] = "tagger";
  m.metadata["tagger"] = metadata_json(train, o, mean, std).dump();
  return m;
}

}  // namespace

ImageSet ImageSet::slice(int64_t begin, int64_t end) const {
  ImageSet s;
  begin = std::max<int64_t>(0, std::min(begin, count));
  end = std::max(begin, std::min(end, count));
  const int64_t per = height * width * channels;
  s.height = height;
  s.width = width;
  s.channels = channels;
  s.count = end - begin;
  s.pixels.assign(pixels.begin() + begin * per, pixels.begin() + end * per);
  s.labels.assign(labels.begin() + begin, labels.begin() + end);
  return s;
}

Result<ImageSet> read_idx(const std::string& images_path, const std::string& labels_path) {
  VITRINE_ASSIGN_OR_RETURN(std::vector<uint8_t> img, read_file(images_path));
  VITRINE_ASSIGN_OR_RETURN(std::vector<uint8_t> lab, read_file(labels_path));
  if (img.size() < 16 || be32(img.data()) != 0x00000803u) {
    return Status::DataLoss(images_path + ": not an IDX image file (magic 0x00000803; gunzip it first?)");
  }
  if (lab.size() < 8 || be32(lab.data()) != 0x00000801u) {
    return Status::DataLoss(labels_path + ": not an IDX label file (magic 0x00000801)");
  }
  ImageSet s;
  s.count = be32(img.data() + 4);
  s.height = be32(img.data() + 8);
  s.width = be32(img.data() + 12);
  s.channels = 1;
  if (s.height < 1 || s.width < 1 || s.height > 4096 || s.width > 4096) return Status::DataLoss(images_path + ": bad image size");
  if (img.size() - 16 != static_cast<size_t>(s.count * s.height * s.width)) {
    return Status::DataLoss(images_path + ": pixel bytes disagree with the header's count and size");
  }
  if (be32(lab.data() + 4) != static_cast<uint32_t>(s.count) || lab.size() - 8 != static_cast<size_t>(s.count)) {
    return Status::DataLoss(labels_path + ": label count disagrees with the images");
  }
  s.pixels.assign(img.begin() + 16, img.end());
  s.labels.assign(lab.begin() + 8, lab.end());
  return s;
}

Result<double> tagger_accuracy(const LoadedModel& model, const ImageSet& data, Context* ctx, int64_t batch,
                               std::vector<int32_t>* predictions) {
  auto it = model.metadata.find("tagger");
  if (it == model.metadata.end()) return Status::InvalidArgument("model has no tagger metadata");
  VITRINE_ASSIGN_OR_RETURN(Json meta, parse_json(it->second));
  VITRINE_ASSIGN_OR_RETURN(double mean, meta.ref("tagger")["input"]["mean"][0].as_number());
  VITRINE_ASSIGN_OR_RETURN(double std, meta.ref("tagger")["input"]["std"][0].as_number());
  VITRINE_ASSIGN_OR_RETURN(std::unique_ptr<Executor> ex, Executor::create(model.graph, ctx));
  const int64_t per = data.height * data.width * data.channels;
  int64_t correct = 0;
  if (predictions) predictions->assign(static_cast<size_t>(data.count), -1);
  for (int64_t b = 0; b < data.count; b += batch) {
    const int64_t n = std::min(batch, data.count - b);
    VITRINE_ASSIGN_OR_RETURN(Tensor x, Tensor::zeros(Shape{n, data.height, data.width, data.channels}));
    for (int64_t i = 0; i < n; ++i) {
      put_image(data, b + i, 0, 0, false, static_cast<float>(mean), static_cast<float>(1.0 / std), x.mutable_data() + i * per);
    }
    std::vector<Tensor> out;
    VITRINE_RETURN_IF_ERROR(ex->run({x}, &out));
    const int64_t classes = out[0].shape()[1];
    for (int64_t i = 0; i < n; ++i) {
      const float* row = out[0].data() + i * classes;
      const int32_t best = static_cast<int32_t>(std::max_element(row, row + classes) - row);
      if (best == data.labels[static_cast<size_t>(b + i)]) ++correct;
      if (predictions) (*predictions)[static_cast<size_t>(b + i)] = best;
    }
  }
  return static_cast<double>(correct) / static_cast<double>(data.count);
}

Result<TagTrainResult> train_tagger(const ImageSet& full_train, const ImageSet& val, const TagTrainOptions& o,
                                    Context* ctx, const TagProgressFn& progress) {
  const ImageSet train = o.max_train > 0 ? full_train.slice(0, o.max_train) : full_train;
  VITRINE_RETURN_IF_ERROR(check(train, val, o));
  Rng rng(o.seed);
  double mean = 0, std = 1;
  pixel_stats(train, &mean, &std);
  VITRINE_ASSIGN_OR_RETURN(Net net, build_training_graph(train, o, rng));
  const int64_t per_epoch = train.count / o.batch_size;
  if (per_epoch < 1) return Status::InvalidArgument("fewer training images than one batch");
  TrainerOptions to;
  to.loss.type = LossType::kSoftmaxCrossEntropy;
  to.loss.label_smoothing = o.label_smoothing;
  to.optimizer.type = "adamw";
  to.optimizer.learning_rate = o.learning_rate;
  to.optimizer.weight_decay = o.weight_decay;
  to.optimizer.schedule = o.schedule;
  to.optimizer.total_steps = per_epoch * o.epochs;
  VITRINE_ASSIGN_OR_RETURN(std::unique_ptr<Trainer> trainer, Trainer::create(net.graph, ctx, to));

  TagTrainResult result;
  std::vector<int64_t> order(static_cast<size_t>(train.count));
  std::iota(order.begin(), order.end(), 0);
  const int64_t pixels = train.height * train.width * train.channels;
  std::uniform_int_distribution<int64_t> shift(-o.shift, o.shift);
  std::bernoulli_distribution flip(0.5);
  bool have_best = false;
  for (int64_t epoch = 1; epoch <= o.epochs; ++epoch) {
    const auto t0 = std::chrono::steady_clock::now();
    std::shuffle(order.begin(), order.end(), rng);
    double sum = 0;
    for (int64_t b = 0; b < per_epoch; ++b) {
      VITRINE_ASSIGN_OR_RETURN(Tensor x, Tensor::zeros(Shape{o.batch_size, train.height, train.width, train.channels}));
      VITRINE_ASSIGN_OR_RETURN(Tensor y, Tensor::zeros(Shape{o.batch_size}));
      for (int64_t i = 0; i < o.batch_size; ++i) {
        const int64_t idx = order[static_cast<size_t>(b * o.batch_size + i)];
        const int64_t dy = o.shift ? shift(rng) : 0, dx = o.shift ? shift(rng) : 0;
        const bool f = o.flip && flip(rng);
        put_image(train, idx, dy, dx, f, static_cast<float>(mean), static_cast<float>(1.0 / std),
                  x.mutable_data() + i * pixels);
        y.mutable_data()[i] = static_cast<float>(train.labels[static_cast<size_t>(idx)]);
      }
      VITRINE_ASSIGN_OR_RETURN(double loss, trainer->step({x}, y));
      if (!std::isfinite(loss)) {
        return Status::FailedPrecondition("tagger training diverged (loss " + std::to_string(loss) + ") at epoch " +
                                          std::to_string(epoch) + ": lower the learning rate");
      }
      sum += loss;
    }
    VITRINE_ASSIGN_OR_RETURN(LoadedModel m, saved_model(net, train, o, mean, std));
    VITRINE_ASSIGN_OR_RETURN(double acc, tagger_accuracy(m, val, ctx));
    result.epoch_losses.push_back(sum / static_cast<double>(per_epoch));
    result.epoch_accuracies.push_back(acc);
    if (!have_best || acc > result.best_accuracy) {
      result.model = std::move(m);
      result.best_accuracy = acc;
      result.best_epoch = epoch;
      have_best = true;
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (progress) progress(epoch, result.epoch_losses.back(), acc, secs);
  }
  return result;
}

}  // namespace vitrine
