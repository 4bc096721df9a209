// vitrine-tag: trains the default image tagger and measures it (natively).
//
//   vitrine-tag train --images TRAIN-IMAGES.idx --labels TRAIN-LABELS.idx --save OUT.safetensors
//       [--validation N (the last N training images validate; default 5000)] [--half]
//       [--widths 32,64 ("" = no conv blocks: an MLP baseline)] [--embedding-dim E] [--dropout P] [--epochs N] [--batch-size B] [--lr LR]
//       [--weight-decay W] [--schedule constant|cosine] [--label-smoothing A] [--shift S] [--no-flip]
//       [--max-train N] [--seed S] [--threads N] [--labels a,b,...] [--groups name:i+j+k,...]
//   vitrine-tag eval MODEL --images IMAGES.idx --labels LABELS.idx [--predictions OUT.txt] [--threads N]
//
// IDX files are the uncompressed MNIST-format files (scripts/tagger/prepare.sh unpacks Debian's
// Fashion-MNIST). The labels and groups default to Fashion-MNIST's classes and the coarse groups
// tops / bottoms / dresses / outerwear / footwear / bags. train keeps the epoch with the best
// validation accuracy and prints one JSON line with the outcome; eval prints the accuracy as JSON.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tool_util.h"
#include "vitrine/model_file.h"
#include "vitrine/tag_train.h"

using namespace vitrine;

namespace {

int fail(const Status& s) { return tools::fail("vitrine-tag", s); }

const char* kFashionLabels = "T-shirt/top,Trouser,Pullover,Dress,Coat,Sandal,Shirt,Sneaker,Bag,Ankle boot";
const char* kFashionGroups = "tops:0+2+6,bottoms:1,dresses:3,outerwear:4,footwear:5+7+9,bags:8";

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string part;
  while (std::getline(in, part, sep)) out.push_back(part);
  return out;
}

Result<std::vector<TagGroup>> parse_groups(const std::string& spec, size_t classes) {
  std::vector<TagGroup> groups;
  if (spec.empty()) return groups;
  for (const std::string& g : split(spec, ',')) {
    const size_t colon = g.find(':');
    if (colon == std::string::npos) return Status::InvalidArgument("--groups: expected name:i+j, got '" + g + "'");
    TagGroup tg;
    tg.name = g.substr(0, colon);
    for (const std::string& m : split(g.substr(colon + 1), '+')) {
      char* end = nullptr;
      const long v = std::strtol(m.c_str(), &end, 10);
      if (m.empty() || *end || v < 0 || static_cast<size_t>(v) >= classes) {
        return Status::InvalidArgument("--groups: bad class index '" + m + "' in group " + tg.name);
      }
      tg.members.push_back(static_cast<int32_t>(v));
    }
    groups.push_back(std::move(tg));
  }
  return groups;
}

int train_main(int argc, char** argv) {
  TagTrainOptions o;
  std::string images, labels, save, label_names = kFashionLabels, groups = kFashionGroups;
  int64_t validation = 5000, threads = 0;
  bool half = false;
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--images") images = next();
    else if (a == "--labels") labels = next();
    else if (a == "--save") save = next();
    else if (a == "--validation") validation = std::atoll(next().c_str());
    else if (a == "--half") half = true;
    else if (a == "--widths") {
      o.widths.clear();
      for (const std::string& w : split(next(), ',')) o.widths.push_back(std::atoll(w.c_str()));
    } else if (a == "--embedding-dim") o.embedding_dim = std::atoll(next().c_str());
    else if (a == "--dropout") o.dropout = std::atof(next().c_str());
    else if (a == "--epochs") o.epochs = std::atoll(next().c_str());
    else if (a == "--batch-size") o.batch_size = std::atoll(next().c_str());
    else if (a == "--lr") o.learning_rate = std::atof(next().c_str());
    else if (a == "--weight-decay") o.weight_decay = std::atof(next().c_str());
    else if (a == "--schedule") o.schedule = next();
    else if (a == "--label-smoothing") o.label_smoothing = std::atof(next().c_str());
    else if (a == "--shift") o.shift = std::atoll(next().c_str());
    else if (a == "--no-flip") o.flip = false;
    else if (a == "--max-train") o.max_train = std::atoll(next().c_str());
    else if (a == "--seed") o.seed = static_cast<uint32_t>(std::atoll(next().c_str()));
    else if (a == "--threads") threads = std::atoll(next().c_str());
    else if (a == "--labels-names" || a == "--class-names") label_names = next();
    else if (a == "--groups") groups = next();
    else return fail(Status::InvalidArgument("unknown option " + a));
  }
  if (images.empty() || labels.empty() || save.empty()) {
    return fail(Status::InvalidArgument("train needs --images, --labels and --save"));
  }
  o.labels = split(label_names, ',');
  Result<std::vector<TagGroup>> g = parse_groups(groups, o.labels.size());
  if (!g.ok()) return fail(g.status());
  o.groups = std::move(g).value();
  Result<ImageSet> all = read_idx(images, labels);
  if (!all.ok()) return fail(all.status());
  if (validation < 1 || validation >= all->count) {
    return fail(Status::InvalidArgument("--validation must be in [1, " + std::to_string(all->count - 1) + "]"));
  }
  const ImageSet train = all->slice(0, all->count - validation);
  const ImageSet val = all->slice(all->count - validation, all->count);
  Result<std::unique_ptr<Context>> ctx = Context::create(static_cast<int>(threads), 0);
  if (!ctx.ok()) return fail(ctx.status());
  const auto t0 = std::chrono::steady_clock::now();
  Result<TagTrainResult> r = train_tagger(train, val, o, ctx.value().get(),
                                          [](int64_t epoch, double loss, double acc, double secs) {
                                            std::fprintf(stderr, "epoch %lld loss %.4f val accuracy %.4f (%.0f s)\n",
                                                         static_cast<long long>(epoch), loss, acc, secs);
                                          });
  if (!r.ok()) return fail(r.status());
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  Result<std::vector<uint8_t>> bytes = save_model(*r->model.graph, r->model.metadata, half);
  if (!bytes.ok()) return fail(bytes.status());
  Status s = write_binary_file(save, bytes.value());
  if (!s.ok()) return fail(s);
  std::printf("{\"best_epoch\": %lld, \"best_validation_accuracy\": %.6f, \"train_images\": %lld, "
              "\"validation_images\": %lld, \"seconds\": %.1f, \"bytes\": %zu}\n",
              static_cast<long long>(r->best_epoch), r->best_accuracy, static_cast<long long>(train.count),
              static_cast<long long>(val.count), seconds, bytes->size());
  return 0;
}

int eval_main(int argc, char** argv) {
  if (argc < 3) return fail(Status::InvalidArgument("eval needs a model path"));
  const std::string model_path = argv[2];
  std::string images, labels, predictions;
  int64_t threads = 0;
  for (int i = 3; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--images") images = next();
    else if (a == "--labels") labels = next();
    else if (a == "--predictions") predictions = next();
    else if (a == "--threads") threads = std::atoll(next().c_str());
    else return fail(Status::InvalidArgument("unknown option " + a));
  }
  if (images.empty() || labels.empty()) return fail(Status::InvalidArgument("eval needs --images and --labels"));
  Result<std::vector<uint8_t>> bytes = read_binary_file(model_path);
  if (!bytes.ok()) return fail(bytes.status());
  Result<LoadedModel> model = load_model(std::make_shared<const std::vector<uint8_t>>(std::move(bytes).value()));
  if (!model.ok()) return fail(model.status());
  Result<ImageSet> data = read_idx(images, labels);
  if (!data.ok()) return fail(data.status());
  Result<std::unique_ptr<Context>> ctx = Context::create(static_cast<int>(threads), 0);
  if (!ctx.ok()) return fail(ctx.status());
  std::vector<int32_t> pred;
  const auto t0 = std::chrono::steady_clock::now();
  Result<double> acc = tagger_accuracy(model.value(), data.value(), ctx.value().get(), 256, &pred);
  if (!acc.ok()) return fail(acc.status());
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!predictions.empty()) {
    std::ofstream out(predictions);
    for (int32_t p : pred) out << p << '\n';
    if (!out) return fail(Status::Internal("cannot write " + predictions));
  }
  std::printf("{\"accuracy\": %.6f, \"images\": %lld, \"seconds\": %.3f}\n", acc.value(),
              static_cast<long long>(data->count), seconds);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0) {
    std::fprintf(stderr, "usage: vitrine-tag train|eval ... (see the comment at the top of vitrine_tag.cc)\n");
    return argc < 2 ? 2 : 0;
  }
  if (std::strcmp(argv[1], "train") == 0) return train_main(argc, argv);
  if (std::strcmp(argv[1], "eval") == 0) return eval_main(argc, argv);
  return fail(Status::InvalidArgument(std::string("unknown command '") + argv[1] + "' (train, eval)"));
}
