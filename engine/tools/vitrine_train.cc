// vitrine-train: trains a model file (.safetensors or .onnx) on .npy data with the engine's Trainer.
//
//   vitrine-train MODEL --input NAME=X.npy... --target Y.npy --save OUT.safetensors
//       [--epochs E] [--batch-size B] [--steps N (full-batch steps instead of epochs)] [--seed S]
//       [--loss softmax_cross_entropy|binary_cross_entropy|mse|bpr|multinomial] [--label-smoothing A]
//       [--optimizer sgd|adam|adamw] [--lr LR] [--momentum M] [--weight-decay W] [--clip-norm C]
//       [--schedule constant|cosine] [--warmup-steps K] [--freeze PREFIX]...
//       [--val-input NAME=X.npy]... [--val-target Y.npy] [--patience P] [--checkpoint PATH]
//       [--optimizer-state IN.safetensors] [--save-optimizer-state OUT.safetensors] [--print-losses]
//       [--threads N (default: all hardware threads)]
//
// Inputs are split into mini-batches along dimension 0 (shuffled each epoch with --seed). After each
// epoch it reports the validation loss (and accuracy for softmax cross-entropy); with --patience it
// stops when the validation loss has not improved for P epochs, and with --checkpoint it saves the
// best model there. A progress bar goes to stderr.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "vitrine/model_file.h"
#include "tool_util.h"
#include "vitrine/npy.h"
#include "vitrine/safetensors.h"
#include "vitrine/train.h"

using namespace vitrine;

namespace {

int fail(const Status& s) { return tools::fail("vitrine-train", s); }
using tools::load_npy;

// Rows `order[begin..end)` of `t` along dimension 0, gathered into a new tensor.
Tensor gather_rows(const Tensor& t, const std::vector<int64_t>& order, size_t begin, size_t end) {
  std::vector<int64_t> dims = t.shape().to_vector();
  const int64_t row = t.shape()[0] ? t.num_elements() / t.shape()[0] : 0;
  dims[0] = static_cast<int64_t>(end - begin);
  Tensor out = Tensor::zeros(Shape::make(dims).value()).value();
  for (size_t i = begin; i < end; ++i) {
    std::memcpy(out.mutable_data() + (i - begin) * row, t.data() + order[i] * row, static_cast<size_t>(row) * sizeof(float));
  }
  return out;
}

Status save(const Graph& g, const std::map<std::string, std::string>& meta, const std::string& path) {
  Result<std::vector<uint8_t>> bytes = save_model(g, meta);
  if (!bytes.ok()) return bytes.status();
  return write_binary_file(path, bytes.value());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0) {
    std::fprintf(stderr, "usage: vitrine-train MODEL --input NAME=X.npy... --target Y.npy --save OUT [options]\n"
                         "       (see the comment at the top of engine/tools/vitrine_train.cc)\n");
    return 2;
  }
  const std::string model_path = argv[1];
  std::vector<std::pair<std::string, std::string>> inputs, val_inputs;
  std::vector<std::string> freeze;
  std::string target_path, val_target_path, save_path, checkpoint, opt_in, opt_out;
  int64_t epochs = 1, batch_size = 0, steps = 0, patience = 0, threads = 0;
  uint32_t seed = 20261128;
  bool print_losses = false;
  TrainerOptions o;
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    auto split = tools::split_assignment;
    if (a == "--input") inputs.push_back(split(next()));
    else if (a == "--val-input") val_inputs.push_back(split(next()));
    else if (a == "--target") target_path = next();
    else if (a == "--val-target") val_target_path = next();
    else if (a == "--save") save_path = next();
    else if (a == "--checkpoint") checkpoint = next();
    else if (a == "--optimizer-state") opt_in = next();
    else if (a == "--save-optimizer-state") opt_out = next();
    else if (a == "--epochs") epochs = std::atoll(next().c_str());
    else if (a == "--batch-size") batch_size = std::atoll(next().c_str());
    else if (a == "--steps") steps = std::atoll(next().c_str());
    else if (a == "--patience") patience = std::atoll(next().c_str());
    else if (a == "--threads") threads = std::atoll(next().c_str());
    else if (a == "--seed") seed = static_cast<uint32_t>(std::atoll(next().c_str()));
    else if (a == "--loss") {
      Result<LossType> t = parse_loss(next());
      if (!t.ok()) return fail(t.status());
      o.loss.type = t.value();
    } else if (a == "--label-smoothing") o.loss.label_smoothing = std::atof(next().c_str());
    else if (a == "--optimizer") o.optimizer.type = next();
    else if (a == "--lr") o.optimizer.learning_rate = std::atof(next().c_str());
    else if (a == "--momentum") o.optimizer.momentum = std::atof(next().c_str());
    else if (a == "--weight-decay") o.optimizer.weight_decay = std::atof(next().c_str());
    else if (a == "--clip-norm") o.optimizer.clip_norm = std::atof(next().c_str());
    else if (a == "--schedule") o.optimizer.schedule = next();
    else if (a == "--warmup-steps") o.optimizer.warmup_steps = std::atoll(next().c_str());
    else if (a == "--freeze") freeze.push_back(next());
    else if (a == "--print-losses") print_losses = true;
    else return fail(Status::InvalidArgument("unknown argument '" + a + "'"));
  }
  if (save_path.empty()) return fail(Status::InvalidArgument("--save OUT is required"));
  Result<std::vector<uint8_t>> bytes = read_binary_file(model_path);
  if (!bytes.ok()) return fail(bytes.status());
  Result<LoadedModel> model = load_model(std::make_shared<const std::vector<uint8_t>>(std::move(bytes).value()));
  if (!model.ok()) return fail(model.status());
  // Train on private copies of the weights (file views are read-only by convention).
  auto graph = std::make_shared<Graph>();
  {
    const Graph& src = *model->graph;
    std::vector<int> map(src.values().size(), -1);
    for (int in : src.inputs()) map[static_cast<size_t>(in)] = graph->add_input(src.value(in).name, src.value(in).shape).value();
    for (size_t v = 0; v < src.values().size(); ++v) {
      if (!src.values()[v].constant.empty()) {
        map[v] = graph->add_constant(src.values()[v].name, src.values()[v].constant.clone().value()).value();
      }
    }
    for (const GraphNode& n : src.nodes()) {
      std::vector<int> ins;
      for (int v : n.inputs) ins.push_back(map[static_cast<size_t>(v)]);
      Result<std::vector<int>> outs = graph->add_node(n.type, n.name, ins, n.attrs);
      if (!outs.ok()) return fail(outs.status());
      for (size_t k = 0; k < n.outputs.size(); ++k) map[static_cast<size_t>(n.outputs[k])] = outs.value()[k];
    }
    for (size_t k = 0; k < src.outputs().size(); ++k) {
      Status s = graph->add_output(map[static_cast<size_t>(src.outputs()[k])], src.output_names()[k]);
      if (!s.ok()) return fail(s);
    }
  }
  auto load_inputs = [&](const std::vector<std::pair<std::string, std::string>>& list) -> Result<std::vector<Tensor>> {
    std::vector<Tensor> out(graph->inputs().size());
    for (const auto& [name, path] : list) {
      size_t slot = 0;
      if (!name.empty()) {
        while (slot < graph->inputs().size() && graph->value(graph->inputs()[slot]).name != name) ++slot;
        if (slot == graph->inputs().size()) return Status::NotFound("'" + name + "' is not a model input");
      }
      Result<Tensor> t = load_npy(path);
      if (!t.ok()) return t.status();
      out[slot] = t.value();
    }
    for (size_t i = 0; i < out.size(); ++i)
      if (out[i].empty()) return Status::InvalidArgument("missing input '" + graph->value(graph->inputs()[i]).name + "'");
    return out;
  };
  Result<std::vector<Tensor>> x = load_inputs(inputs);
  if (!x.ok()) return fail(x.status());
  Tensor y;
  if (!target_path.empty()) {
    Result<Tensor> t = load_npy(target_path);
    if (!t.ok()) return fail(t.status());
    y = t.value();
  }
  const int64_t rows = x.value()[0].shape()[0];
  for (const Tensor& t : x.value())
    if (t.shape()[0] != rows) return fail(Status::InvalidArgument("inputs differ in their number of rows"));
  if (!y.empty() && y.shape()[0] != rows) return fail(Status::InvalidArgument("the target's rows differ from the inputs'"));
  std::vector<Tensor> vx;
  Tensor vy;
  if (!val_inputs.empty()) {
    Result<std::vector<Tensor>> v = load_inputs(val_inputs);
    if (!v.ok()) return fail(v.status());
    vx = v.value();
    Result<Tensor> t = load_npy(val_target_path);
    if (!t.ok()) return fail(t.status());
    vy = t.value();
  }
  if (batch_size <= 0 || batch_size > rows) batch_size = rows;
  if (steps > 0) {
    epochs = 1;
    batch_size = rows;
  }
  const int64_t batches = (rows + batch_size - 1) / batch_size;
  if (o.optimizer.schedule == "cosine" && o.optimizer.total_steps == 0) o.optimizer.total_steps = steps > 0 ? steps : epochs * batches;
  Result<std::unique_ptr<Context>> ctx = Context::create(static_cast<int>(threads), static_cast<int>(threads));
  if (!ctx.ok()) return fail(ctx.status());
  Result<std::unique_ptr<Trainer>> trainer = Trainer::create(graph, ctx->get(), o);
  if (!trainer.ok()) return fail(trainer.status());
  for (const std::string& p : freeze) {
    Status s = trainer.value()->set_frozen(p, true);
    if (!s.ok()) return fail(s);
  }
  if (!opt_in.empty()) {
    Result<std::vector<uint8_t>> sb = read_binary_file(opt_in);
    if (!sb.ok()) return fail(sb.status());
    Result<SafetensorsFile> file = SafetensorsFile::parse(sb->data(), sb->size());
    if (!file.ok()) return fail(file.status());
    std::map<std::string, Tensor> state;
    for (const std::string& n : file->names()) state[n] = file->tensor(n).value().clone().value();
    Status s = trainer.value()->load_optimizer_state(state);
    if (!s.ok()) return fail(s);
  }
  std::mt19937 rng(seed);
  std::vector<int64_t> order(static_cast<size_t>(rows));
  std::iota(order.begin(), order.end(), 0);
  double best = INFINITY;
  int64_t since_best = 0;
  const int64_t total_steps = steps > 0 ? steps : epochs * batches;
  int64_t done = 0;
  for (int64_t e = 0; e < epochs; ++e) {
    if (steps == 0 && batches > 1) std::shuffle(order.begin(), order.end(), rng);
    double epoch_loss = 0;
    const int64_t loop = steps > 0 ? steps : batches;
    for (int64_t b = 0; b < loop; ++b) {
      const size_t begin = steps > 0 ? 0 : static_cast<size_t>(b * batch_size);
      const size_t end = steps > 0 ? static_cast<size_t>(rows) : static_cast<size_t>(std::min(rows, (b + 1) * batch_size));
      std::vector<Tensor> bx;
      for (const Tensor& t : x.value()) bx.push_back(batches == 1 ? t : gather_rows(t, order, begin, end));
      Tensor by = y.empty() || batches == 1 ? y : gather_rows(y, order, begin, end);
      Result<double> loss = trainer.value()->step(bx, by);
      if (!loss.ok()) return fail(loss.status());
      epoch_loss += loss.value();
      ++done;
      if (print_losses) std::printf("step %lld loss %.9g\n", static_cast<long long>(done), loss.value());
      const int width = 30, filled = static_cast<int>(width * done / std::max<int64_t>(1, total_steps));
      std::fprintf(stderr, "\repoch %lld/%lld [%s%s] %lld/%lld loss %.5f", static_cast<long long>(e + 1),
                   static_cast<long long>(epochs), std::string(static_cast<size_t>(filled), '#').c_str(),
                   std::string(static_cast<size_t>(width - filled), '.').c_str(), static_cast<long long>(done),
                   static_cast<long long>(total_steps), loss.value());
    }
    std::fprintf(stderr, "\n");
    epoch_loss /= static_cast<double>(loop);
    if (!vx.empty()) {
      Result<double> val = trainer.value()->evaluate(vx, vy);
      if (!val.ok()) return fail(val.status());
      std::string extra;
      if (o.loss.type == LossType::kSoftmaxCrossEntropy && vy.shape().rank() == 1) {
        const Tensor& logits = trainer.value()->outputs()[static_cast<size_t>(o.output)];
        const int64_t c = logits.shape()[1];
        int64_t correct = 0;
        for (int64_t r = 0; r < logits.shape()[0]; ++r) {
          const float* row = logits.data() + r * c;
          correct += (std::max_element(row, row + c) - row) == static_cast<int64_t>(vy.data()[r]);
        }
        extra = ", accuracy " + std::to_string(static_cast<double>(correct) / static_cast<double>(logits.shape()[0]));
      }
      std::printf("epoch %lld: train loss %.6f, validation loss %.6f%s\n", static_cast<long long>(e + 1), epoch_loss,
                  val.value(), extra.c_str());
      if (val.value() < best) {
        best = val.value();
        since_best = 0;
        if (!checkpoint.empty()) {
          Status s = save(*graph, model->metadata, checkpoint);
          if (!s.ok()) return fail(s);
        }
      } else if (patience > 0 && ++since_best >= patience) {
        std::printf("early stop: no validation improvement for %lld epochs\n", static_cast<long long>(patience));
        break;
      }
    } else {
      std::printf("epoch %lld: train loss %.6f\n", static_cast<long long>(e + 1), epoch_loss);
    }
  }
  Status s = save(*graph, model->metadata, save_path);
  if (!s.ok()) return fail(s);
  if (!opt_out.empty()) {
    Result<std::vector<uint8_t>> state = write_safetensors(trainer.value()->optimizer_state());
    if (!state.ok()) return fail(state.status());
    s = write_binary_file(opt_out, state.value());
    if (!s.ok()) return fail(s);
  }
  std::printf("saved %s after %lld steps\n", save_path.c_str(), static_cast<long long>(trainer.value()->steps_taken()));
  return 0;
}
