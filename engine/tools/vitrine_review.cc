// vitrine-review: trains and evaluates review sentiment models (natively).
//
//   vitrine-review cv --csv TRAIN.csv [--folds 5] [model options]
//       k-fold cross-validation on the training file only: mean accuracy / macro-F1 at the
//       threshold 0.5 and at the threshold that maximizes macro-F1 on the out-of-fold
//       probabilities (printed as JSON; that threshold is what `train --threshold` should get).
//   vitrine-review train --csv TRAIN.csv --save OUT.safetensors [--threshold T] [--half] [model options]
//   vitrine-review predict MODEL --csv TEST.csv [--out PRED.txt]
//       one line per review: predicted label index and P(labels[1]); prints accuracy and macro-F1
//       as JSON when the file has labels.
//   vitrine-review summarize MODEL --csv REVIEWS.csv [--aspects ASPECTS.json]
//       what the reviews say, as the facade's summarize() (analyze_review + ReviewSummary): the
//       sentiment split and per aspect mentions, praise and complaints, as JSON. ASPECTS.json:
//       {"name": ["keyword", "prefix*", ...], ...} (the facade's DEFAULT_ASPECTS has that form).
//   model options: [--labels other,great] [--dim D] [--epochs N] [--lr LR] [--weight-decay W]
//       [--min-count C] [--bpe-merges M] [--buckets B] [--char-buckets B --char-min N --char-max N]
//       [--max-features F] [--weighting mean|nb|tfidf] [--seed S] [--threads N]
//
// CSV: a header naming a text column (text or review) and a label column (label or score);
// RFC 4180 quoting (quoted fields may hold commas, quotes as "" and newlines).
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
#include "vitrine/text.h"

using namespace vitrine;

namespace {

int fail(const Status& s) { return tools::fail("vitrine-review", s); }

Result<std::vector<std::vector<std::string>>> read_csv(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return Status::NotFound("cannot open " + path);
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string s = ss.str();
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> row;
  std::string field;
  bool quoted = false, any = false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (quoted) {
      if (c == '"' && i + 1 < s.size() && s[i + 1] == '"') field.push_back('"'), ++i;
      else if (c == '"') quoted = false;
      else field.push_back(c);
    } else if (c == '"') {
      quoted = true;
      any = true;
    } else if (c == ',') {
      row.push_back(std::move(field));
      field.clear();
      any = true;
    } else if (c == '\n' || c == '\r') {
      if (c == '\r' && i + 1 < s.size() && s[i + 1] == '\n') ++i;
      if (any || !field.empty()) {
        row.push_back(std::move(field));
        rows.push_back(std::move(row));
      }
      row.clear();
      field.clear();
      any = false;
    } else {
      field.push_back(c);
      any = true;
    }
  }
  if (quoted) return Status::DataLoss(path + ": unterminated quoted field");
  if (any || !field.empty()) {
    row.push_back(std::move(field));
    rows.push_back(std::move(row));
  }
  return rows;
}

struct Data {
  std::vector<ReviewExample> examples;
  bool labelled = false;
};

Result<Data> read_examples(const std::string& path, const std::vector<std::string>& labels) {
  VITRINE_ASSIGN_OR_RETURN(auto rows, read_csv(path));
  if (rows.empty()) return Status::InvalidArgument(path + ": empty");
  int text = -1, label = -1;
  for (size_t c = 0; c < rows[0].size(); ++c) {
    if (rows[0][c] == "text" || rows[0][c] == "review") text = static_cast<int>(c);
    if (rows[0][c] == "label" || rows[0][c] == "score") label = static_cast<int>(c);
  }
  if (text < 0) return Status::InvalidArgument(path + ": no text (or review) column in the header");
  Data d;
  d.labelled = label >= 0;
  for (size_t r = 1; r < rows.size(); ++r) {
    if (rows[r].size() != rows[0].size()) {
      return Status::DataLoss(path + ": row " + std::to_string(r) + " has " + std::to_string(rows[r].size()) + " fields, the header " +
                              std::to_string(rows[0].size()));
    }
    ReviewExample e;
    e.text = rows[r][static_cast<size_t>(text)];
    if (label >= 0) {
      const std::string& l = rows[r][static_cast<size_t>(label)];
      e.label = -1;
      for (size_t k = 0; k < labels.size(); ++k) {
        if (labels[k] == l) e.label = static_cast<int32_t>(k);
      }
      if (e.label < 0) return Status::InvalidArgument(path + ": row " + std::to_string(r) + " has label '" + l + "', not one of --labels");
    }
    d.examples.push_back(std::move(e));
  }
  return d;
}

struct Scores {
  double accuracy, macro_f1;
};

Scores score(const std::vector<int32_t>& truth, const std::vector<float>& p1, double threshold) {
  int64_t tp = 0, fp = 0, fn = 0, tn = 0;
  for (size_t i = 0; i < truth.size(); ++i) {
    const bool pred = p1[i] >= threshold, pos = truth[i] == 1;
    tp += pred && pos;
    fp += pred && !pos;
    fn += !pred && pos;
    tn += !pred && !pos;
  }
  auto f1 = [](double a, double b, double c) { return a + b + c > 0 ? 2 * a / (2 * a + b + c) : 0.0; };
  return {static_cast<double>(tp + tn) / static_cast<double>(truth.size()), (f1(tp, fp, fn) + f1(tn, fn, fp)) / 2};
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string p;
  while (std::getline(in, p, sep)) out.push_back(p);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0) {
    std::fprintf(stderr, "usage: vitrine-review cv|train|predict|summarize ... (see the comment at the top of vitrine_review.cc)\n");
    return argc < 2 ? 2 : 0;
  }
  const std::string cmd = argv[1];
  if (cmd != "cv" && cmd != "train" && cmd != "predict" && cmd != "summarize") {
    return fail(Status::InvalidArgument("unknown command '" + cmd + "' (cv, train, predict, summarize)"));
  }
  ReviewTrainOptions o;
  std::string csv, save, out, model_path, aspects_path;
  std::vector<std::string> labels = {"other", "great"};
  int64_t folds = 5, threads = 0;
  double threshold = 0.5;
  bool half = false;
  int first = 2;
  if (cmd == "predict" || cmd == "summarize") {
    if (argc < 3) return fail(Status::InvalidArgument(cmd + " needs a model path"));
    model_path = argv[2];
    first = 3;
  }
  for (int i = first; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--csv") csv = next();
    else if (a == "--save") save = next();
    else if (a == "--out") out = next();
    else if (a == "--folds") folds = std::atoll(next().c_str());
    else if (a == "--threshold") threshold = std::atof(next().c_str());
    else if (a == "--half") half = true;
    else if (a == "--labels") labels = split(next(), ',');
    else if (a == "--dim") o.dim = std::atoll(next().c_str());
    else if (a == "--epochs") o.epochs = std::atoll(next().c_str());
    else if (a == "--lr") o.learning_rate = std::atof(next().c_str());
    else if (a == "--weight-decay") o.weight_decay = std::atof(next().c_str());
    else if (a == "--min-count") o.vocab.min_count = std::atoll(next().c_str());
    else if (a == "--bpe-merges") o.vocab.bpe_merges = std::atoll(next().c_str());
    else if (a == "--buckets") o.vocab.bigram_buckets = std::atoll(next().c_str());
    else if (a == "--char-buckets") o.vocab.char_buckets = std::atoll(next().c_str());
    else if (a == "--char-min") o.vocab.char_min = std::atoll(next().c_str());
    else if (a == "--char-max") o.vocab.char_max = std::atoll(next().c_str());
    else if (a == "--max-features") o.max_features = std::atoll(next().c_str());
    else if (a == "--weighting") o.weighting = next();
    else if (a == "--seed") o.seed = static_cast<uint32_t>(std::atoll(next().c_str()));
    else if (a == "--threads") threads = std::atoll(next().c_str());
    else if (a == "--aspects") aspects_path = next();
    else return fail(Status::InvalidArgument("unknown option " + a));
  }
  if (csv.empty()) return fail(Status::InvalidArgument("--csv is required"));
  Result<std::unique_ptr<Context>> ctx = Context::create(static_cast<int>(threads), 0);
  if (!ctx.ok()) return fail(ctx.status());
  Context* c = ctx.value().get();

  if (cmd == "summarize") {
    Result<std::vector<uint8_t>> bytes = read_binary_file(model_path);
    if (!bytes.ok()) return fail(bytes.status());
    Result<std::unique_ptr<ReviewModel>> m = ReviewModel::load(std::make_shared<const std::vector<uint8_t>>(std::move(bytes).value()), c);
    if (!m.ok()) return fail(m.status());
    std::unique_ptr<KeywordAspects> aspects;
    if (!aspects_path.empty()) {
      Result<std::vector<uint8_t>> text = read_binary_file(aspects_path);
      Result<Json> j = text.ok() ? parse_json(std::string(text->begin(), text->end())) : Result<Json>(text.status());
      Result<std::unique_ptr<KeywordAspects>> k = j.ok() ? KeywordAspects::from_json(j->ref(aspects_path)) : Result<std::unique_ptr<KeywordAspects>>(j.status());
      if (!k.ok()) return fail(k.status());
      aspects = std::move(k).value();
    }
    Result<Data> d = read_examples(csv, m.value()->labels());
    if (!d.ok()) return fail(d.status());
    ReviewSummary summary(aspects ? aspects->names() : std::vector<std::string>{});
    for (const ReviewExample& e : d->examples) {
      ReviewRequest r;
      r.text = e.text;
      r.top_words = 0;
      Result<ReviewAnalysis> a = analyze_review(*m.value(), aspects.get(), r);
      if (!a.ok()) return fail(a.status());
      summary.add(a.value());
    }
    std::printf("%s\n", summary.to_json().dump().c_str());
    return 0;
  }

  if (cmd == "predict") {
    Result<std::vector<uint8_t>> bytes = read_binary_file(model_path);
    if (!bytes.ok()) return fail(bytes.status());
    Result<std::unique_ptr<ReviewModel>> m = ReviewModel::load(std::make_shared<const std::vector<uint8_t>>(std::move(bytes).value()), c);
    if (!m.ok()) return fail(m.status());
    Result<Data> d = read_examples(csv, m.value()->labels());
    if (!d.ok()) return fail(d.status());
    std::vector<int32_t> truth;
    std::vector<float> p1;
    std::ofstream f;
    if (!out.empty()) f.open(out);
    const auto t0 = std::chrono::steady_clock::now();
    for (const ReviewExample& e : d->examples) {
      Result<ReviewModel::Prediction> p = m.value()->predict(tokenize(e.text));
      if (!p.ok()) return fail(p.status());
      p1.push_back(p->probabilities[1]);
      truth.push_back(e.label);
      if (f.is_open()) f << p->label << ' ' << p->probabilities[1] << '\n';
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (d->labelled) {
      const Scores s = score(truth, p1, m.value()->threshold());
      std::printf("{\"accuracy\": %.6f, \"macro_f1\": %.6f, \"threshold\": %.4f, \"reviews\": %zu, \"reviews_per_s\": %.1f}\n", s.accuracy,
                  s.macro_f1, m.value()->threshold(), truth.size(), static_cast<double>(truth.size()) / secs);
    } else {
      std::printf("{\"reviews\": %zu, \"reviews_per_s\": %.1f}\n", truth.size(), static_cast<double>(truth.size()) / secs);
    }
    return 0;
  }

  Result<Data> d = read_examples(csv, labels);
  if (!d.ok()) return fail(d.status());
  if (!d->labelled) return fail(Status::InvalidArgument(csv + ": training needs a label column"));
  const std::vector<ReviewExample>& all = d->examples;
  if (cmd == "cv") {
    if (folds < 2 || folds > static_cast<int64_t>(all.size())) return fail(Status::InvalidArgument("--folds must be in [2, examples]"));
    std::vector<float> oof(all.size(), 0.5f);
    std::vector<int32_t> truth(all.size());
    for (size_t i = 0; i < all.size(); ++i) truth[i] = all[i].label;
    for (int64_t k = 0; k < folds; ++k) {
      std::vector<ReviewExample> train;
      std::vector<size_t> held;
      for (size_t i = 0; i < all.size(); ++i) {
        if (static_cast<int64_t>(i % static_cast<size_t>(folds)) == k) held.push_back(i);
        else train.push_back(all[i]);
      }
      Result<std::unique_ptr<ReviewModel>> m = ReviewModel::train(train, labels, o, c);
      if (!m.ok()) return fail(m.status());
      for (size_t i : held) {
        Result<ReviewModel::Prediction> p = m.value()->predict(tokenize(all[i].text));
        if (!p.ok()) return fail(p.status());
        oof[i] = p->probabilities[1];
      }
    }
    const Scores at_half = score(truth, oof, 0.5);
    double best_t = 0.5;
    Scores best = at_half;
    for (int t = 5; t <= 95; ++t) {
      const Scores s = score(truth, oof, t / 100.0);
      if (s.macro_f1 > best.macro_f1) best = s, best_t = t / 100.0;
    }
    std::printf("{\"folds\": %lld, \"accuracy\": %.6f, \"macro_f1\": %.6f, \"best_threshold\": %.2f, "
                "\"accuracy_at_best\": %.6f, \"macro_f1_at_best\": %.6f}\n",
                static_cast<long long>(folds), at_half.accuracy, at_half.macro_f1, best_t, best.accuracy, best.macro_f1);
    return 0;
  }
  if (save.empty()) return fail(Status::InvalidArgument("train needs --save"));
  const auto t0 = std::chrono::steady_clock::now();
  Result<std::unique_ptr<ReviewModel>> m = ReviewModel::train(all, labels, o, c, [](int64_t e, int64_t n, double loss) {
    std::fprintf(stderr, "epoch %lld/%lld loss %.4f\n", static_cast<long long>(e), static_cast<long long>(n), loss);
    return true;
  });
  if (!m.ok()) return fail(m.status());
  Status s = m.value()->set_threshold(threshold);
  if (!s.ok()) return fail(s);
  Result<std::vector<uint8_t>> bytes = m.value()->save(half);
  if (!bytes.ok()) return fail(bytes.status());
  s = write_binary_file(save, bytes.value());
  if (!s.ok()) return fail(s);
  std::printf("{\"examples\": %zu, \"vocabulary\": %lld, \"seconds\": %.1f, \"bytes\": %zu}\n", all.size(),
              static_cast<long long>(m.value()->vocab().size()),
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), bytes->size());
  return 0;
}
