// Image tagging: pre-processing (against hand-computed values and PIL's area resize of real
// photos), IDX reading, tagger training + ImageTagger on a small learnable task, few-shot heads
// (training, save/load, cancellation, bad input) and the embedding index.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>

#include "reference.h"
#include "vitrine/tag.h"
#include "vitrine/tag_train.h"

namespace vitrine {
namespace {

ImageInputSpec gray_spec(int64_t h, int64_t w) {
  ImageInputSpec s;
  s.height = h;
  s.width = w;
  s.channels = 1;
  return s;
}

std::vector<float> run_pre(const ImageView& v, const ImageInputSpec& s, PreprocessOptions o = {}) {
  std::vector<float> out(static_cast<size_t>(s.height * s.width * s.channels), -99.0f);
  Status st = preprocess_image(v, s, o, out.data());
  EXPECT_TRUE(st.ok()) << st.to_string();
  return out;
}

TEST(Preprocess, SameSizeGrayIsNormalizedCopy) {
  std::vector<uint8_t> px(6 * 5);
  for (size_t i = 0; i < px.size(); ++i) px[i] = static_cast<uint8_t>(i * 8);
  ImageInputSpec s = gray_spec(5, 6);
  s.mean = {0.5f};
  s.std = {0.25f};
  PreprocessOptions o;
  o.invert = InvertMode::kNever;
  std::vector<float> out = run_pre({px.data(), 6, 5, PixelFormat::kGray, 0}, s, o);
  for (size_t i = 0; i < px.size(); ++i) EXPECT_NEAR(out[i], (px[i] / 255.0f - 0.5f) / 0.25f, 1e-5) << i;
}

TEST(Preprocess, AreaShrinkAveragesBlocksAndBilinearKeepsConstants) {
  // 4x4 gray with 2x2 blocks of 0, 40, 80, 120 -> 2x2 of those values.
  std::vector<uint8_t> px(16);
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 4; ++x) px[y * 4 + x] = static_cast<uint8_t>(40 * ((y / 2) * 2 + x / 2));
  PreprocessOptions o;
  o.invert = InvertMode::kNever;
  o.fit = FitMode::kStretch;
  std::vector<float> out = run_pre({px.data(), 4, 4, PixelFormat::kGray, 0}, gray_spec(2, 2), o);
  EXPECT_NEAR(out[0] * 255, 0, 1e-3);
  EXPECT_NEAR(out[1] * 255, 40, 1e-3);
  EXPECT_NEAR(out[2] * 255, 80, 1e-3);
  EXPECT_NEAR(out[3] * 255, 120, 1e-3);
  std::vector<uint8_t> flat(9, 77);
  std::vector<float> up = run_pre({flat.data(), 3, 3, PixelFormat::kGray, 0}, gray_spec(8, 8), o);
  for (float v : up) EXPECT_NEAR(v * 255, 77, 1e-3);
  // Upscaling a 2-pixel ramp: bilinear with half-pixel centres.
  std::vector<uint8_t> ramp = {0, 100};
  std::vector<float> r = run_pre({ramp.data(), 2, 1, PixelFormat::kGray, 0}, gray_spec(1, 4), o);
  EXPECT_NEAR(r[0] * 255, 0, 1e-3);
  EXPECT_NEAR(r[1] * 255, 25, 1e-3);
  EXPECT_NEAR(r[2] * 255, 75, 1e-3);
  EXPECT_NEAR(r[3] * 255, 100, 1e-3);
  // Fractional area: 3 pixels onto 2, each output covers 1.5 source pixels.
  std::vector<uint8_t> three = {30, 60, 90};
  std::vector<float> f = run_pre({three.data(), 3, 1, PixelFormat::kGray, 0}, gray_spec(1, 2), o);
  EXPECT_NEAR(f[0] * 255, (30 + 0.5 * 60) / 1.5, 1e-3);
  EXPECT_NEAR(f[1] * 255, (0.5 * 60 + 90) / 1.5, 1e-3);
}

TEST(Preprocess, LetterboxPadsWithBackgroundAndCropCutsTheCentre) {
  // A 4x2 (w x h) white image on a dark-background 4x4 model: rows 0 and 3 are background (0),
  // rows 1-2 carry the inverted (auto: light border) image = 0 too; use kNever to see the pixels.
  std::vector<uint8_t> px(8, 200);
  ImageInputSpec s = gray_spec(4, 4);
  s.dark_background = true;
  PreprocessOptions o;
  o.invert = InvertMode::kNever;
  std::vector<float> out = run_pre({px.data(), 4, 2, PixelFormat::kGray, 0}, s, o);
  for (int x = 0; x < 4; ++x) {
    EXPECT_EQ(out[x], 0.0f);
    EXPECT_EQ(out[12 + x], 0.0f);
    EXPECT_NEAR(out[4 + x] * 255, 200, 1e-3);
    EXPECT_NEAR(out[8 + x] * 255, 200, 1e-3);
  }
  // Crop: 4x2 image with columns 10, 20, 30, 40 -> 2x2 keeps the middle columns.
  std::vector<uint8_t> cols = {10, 20, 30, 40, 10, 20, 30, 40};
  o.fit = FitMode::kCrop;
  std::vector<float> c = run_pre({cols.data(), 4, 2, PixelFormat::kGray, 0}, gray_spec(2, 2), o);
  EXPECT_NEAR(c[0] * 255, 20, 1e-3);
  EXPECT_NEAR(c[1] * 255, 30, 1e-3);
}

TEST(Preprocess, ColourAlphaInversionAndLayouts) {
  // RGBA: opaque red, transparent (-> white), half-transparent black (-> ~128), opaque blue.
  std::vector<uint8_t> px = {255, 0, 0, 255, 0, 0, 0, 0, 0, 0, 0, 128, 0, 0, 255, 255};
  PreprocessOptions o;
  o.invert = InvertMode::kNever;
  o.fit = FitMode::kStretch;
  std::vector<float> g = run_pre({px.data(), 4, 1, PixelFormat::kRgba, 0}, gray_spec(1, 4), o);
  EXPECT_NEAR(g[0] * 255, 0.299 * 255, 1e-2);
  EXPECT_NEAR(g[1] * 255, 255, 1e-2);
  EXPECT_NEAR(g[2] * 255, 255 * (1 - 128 / 255.0), 1e-2);
  EXPECT_NEAR(g[3] * 255, 0.114 * 255, 1e-2);
  ImageInputSpec rgb = gray_spec(1, 4);
  rgb.channels = 3;
  rgb.nchw = true;
  std::vector<float> c = run_pre({px.data(), 4, 1, PixelFormat::kRgba, 0}, rgb, o);
  EXPECT_NEAR(c[0], 1.0f, 1e-5);       // R plane, pixel 0
  EXPECT_NEAR(c[4 + 0], 0.0f, 1e-5);   // G plane, pixel 0
  EXPECT_NEAR(c[8 + 3], 1.0f, 1e-5);   // B plane, pixel 3
  // Auto inversion: a white-bordered photo for a dark-background model becomes dark-bordered.
  std::vector<uint8_t> photo(9, 250);
  photo[4] = 10;
  ImageInputSpec dark = gray_spec(3, 3);
  dark.dark_background = true;
  PreprocessOptions autoinv;
  autoinv.fit = FitMode::kStretch;
  std::vector<float> inv = run_pre({photo.data(), 3, 3, PixelFormat::kGray, 0}, dark, autoinv);
  EXPECT_NEAR(inv[0] * 255, 5, 1e-3);
  EXPECT_NEAR(inv[4] * 255, 245, 1e-3);
  // Row stride: a 2x2 image inside rows of 3 bytes.
  std::vector<uint8_t> strided = {1, 2, 99, 3, 4, 99};
  std::vector<float> s = run_pre({strided.data(), 2, 2, PixelFormat::kGray, 3}, gray_spec(2, 2), o);
  EXPECT_NEAR(s[3] * 255, 4, 1e-3);
}

TEST(Preprocess, RejectsBadImages) {
  std::vector<uint8_t> px(16, 0);
  std::vector<float> out(16);
  const ImageInputSpec s = gray_spec(4, 4);
  EXPECT_FALSE(preprocess_image({nullptr, 4, 4, PixelFormat::kGray, 0}, s, {}, out.data()).ok());
  EXPECT_FALSE(preprocess_image({px.data(), 0, 4, PixelFormat::kGray, 0}, s, {}, out.data()).ok());
  EXPECT_FALSE(preprocess_image({px.data(), 4, -1, PixelFormat::kGray, 0}, s, {}, out.data()).ok());
  EXPECT_FALSE(preprocess_image({px.data(), 4, 4, PixelFormat::kGray, 3}, s, {}, out.data()).ok());
  EXPECT_FALSE(preprocess_image({px.data(), 20000, 1, PixelFormat::kGray, 0}, s, {}, out.data()).ok());
  ImageInputSpec bad = s;
  bad.channels = 2;
  EXPECT_FALSE(preprocess_image({px.data(), 4, 4, PixelFormat::kGray, 0}, bad, {}, out.data()).ok());
  bad = s;
  bad.std = {0.0f};
  EXPECT_FALSE(preprocess_image({px.data(), 4, 4, PixelFormat::kGray, 0}, bad, {}, out.data()).ok());
  EXPECT_FALSE(parse_fit_mode("zoom").ok());
  EXPECT_FALSE(parse_pixel_format("bgr").ok());
  EXPECT_FALSE(parse_invert_mode("maybe").ok());
}

// scikit-learn's sample photos, area-resized by PIL (scripts/models/export_photo_goldens.py).
TEST(Preprocess, RealPhotosMatchPilAreaResize) {
  const std::string dir = testing::parity_dir("photos", "");
  bool any = false;
  for (const char* name : {"china", "flower"}) {
    Tensor photo = testing::load_npy(dir, name);
    if (photo.empty()) continue;
    any = true;
    const int64_t h = photo.shape()[0], w = photo.shape()[1];
    std::vector<uint8_t> rgb(static_cast<size_t>(photo.num_elements()));
    for (size_t i = 0; i < rgb.size(); ++i) rgb[i] = static_cast<uint8_t>(photo.data()[i]);
    for (auto [ow, oh] : std::vector<std::pair<int64_t, int64_t>>{{64, 61}, {160, 61}, {10, 7}}) {
      const std::string size = std::to_string(ow) + "x" + std::to_string(oh);
      for (int gray = 0; gray < 2; ++gray) {
        Tensor want = testing::load_npy(dir, std::string(name) + (gray ? "_gray_box_" : "_box_") + size);
        ASSERT_FALSE(want.empty()) << name << " " << size;
        ImageInputSpec s = gray_spec(oh, ow);
        s.channels = gray ? 1 : 3;
        PreprocessOptions o;
        o.fit = FitMode::kStretch;
        o.invert = InvertMode::kNever;
        std::vector<float> out = run_pre({rgb.data(), w, h, PixelFormat::kRgb, 0}, s, o);
        ASSERT_EQ(static_cast<int64_t>(out.size()), want.num_elements());
        double worst = 0, total = 0;
        for (size_t i = 0; i < out.size(); ++i) {
          const double d = std::fabs(out[i] * 255.0 - want.data()[i]);
          worst = std::max(worst, d);
          total += d;
        }
        // PIL rounds to 8 bits after each pass (and after its gray conversion).
        EXPECT_LE(worst, gray ? 1.51 : 1.01) << name << " " << size << (gray ? " gray" : " rgb");
        EXPECT_LE(total / static_cast<double>(out.size()), 0.5) << name << " " << size;
      }
    }
  }
  if (!any) {
    if (testing::require_models()) FAIL() << "photo goldens missing";
    GTEST_SKIP() << "no photo goldens (VITRINE_PARITY_MODELS)";
  }
}

TEST(ReadIdx, RejectsWrongMagicAndCounts) {
  const std::string dir = ::testing::TempDir();
  const std::string img = dir + "/img.idx", lab = dir + "/lab.idx";
  auto write = [](const std::string& p, std::vector<uint8_t> b) {
    std::ofstream f(p, std::ios::binary);
    f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
  };
  write(img, {0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2, 1, 2, 3, 4});
  write(lab, {0, 0, 8, 1, 0, 0, 0, 2, 5, 6});
  Result<ImageSet> ok = read_idx(img, lab);
  ASSERT_TRUE(ok.ok()) << ok.status().to_string();
  EXPECT_EQ(ok->count, 2);
  EXPECT_EQ(ok->width, 2);
  EXPECT_EQ(ok->labels[1], 6);
  write(lab, {0, 0, 8, 1, 0, 0, 0, 3, 5, 6});
  EXPECT_EQ(read_idx(img, lab).status().code(), StatusCode::kDataLoss);
  write(img, {0x1f, 0x8b, 8, 3, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2, 1, 2, 3, 4});
  EXPECT_EQ(read_idx(img, lab).status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(read_idx(dir + "/missing", lab).status().code(), StatusCode::kNotFound);
}

// A learnable 8x8 task: class 0 = bright left half, 1 = bright right half, 2 = bright top half.
ImageSet halves(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> noise(0, 60);
  ImageSet s;
  s.count = n;
  s.height = s.width = 8;
  s.channels = 1;
  for (int64_t i = 0; i < n; ++i) {
    const int label = static_cast<int>(i % 3);
    s.labels.push_back(label);
    for (int y = 0; y < 8; ++y)
      for (int x = 0; x < 8; ++x) {
        const bool on = label == 0 ? x < 4 : label == 1 ? x >= 4 : y < 4;
        s.pixels.push_back(static_cast<uint8_t>((on ? 180 : 0) + noise(rng)));
      }
  }
  return s;
}

TEST(Tagger, TrainsSavesAndTagsAndEmbeds) {
  auto ctx = Context::create(1, 1).value();
  TagTrainOptions o;
  o.labels = {"left", "right", "top"};
  o.groups = {{"sides", {0, 1}}, {"top", {2}}};
  o.widths = {4};
  o.embedding_dim = 8;
  o.epochs = 4;
  o.batch_size = 16;
  o.learning_rate = 0.01;
  o.flip = false;  // a flip swaps left and right
  o.shift = 1;
  Result<TagTrainResult> r = train_tagger(halves(240, 1), halves(60, 2), o, ctx.get());
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_GE(r->best_accuracy, 0.95);
  ASSERT_EQ(r->epoch_accuracies.size(), 4u);

  // Round trip through the file format, then tag with ImageTagger.
  Result<std::vector<uint8_t>> bytes = save_model(*r->model.graph, r->model.metadata);
  ASSERT_TRUE(bytes.ok());
  Result<LoadedModel> m = load_model(std::make_shared<const std::vector<uint8_t>>(bytes.value()));
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  Result<double> acc = tagger_accuracy(m.value(), halves(60, 3), ctx.get());
  ASSERT_TRUE(acc.ok());
  EXPECT_GE(acc.value(), 0.95);
  Result<std::unique_ptr<ImageTagger>> t = ImageTagger::create(m.value(), ctx.get());
  ASSERT_TRUE(t.ok()) << t.status().to_string();
  ImageTagger& tagger = *t.value();
  EXPECT_EQ(tagger.labels(), o.labels);
  EXPECT_EQ(tagger.embedding_dim(), 8);
  ASSERT_EQ(tagger.groups().size(), 2u);
  const ImageSet test = halves(3, 4);
  std::vector<float> x(3 * 64);
  PreprocessOptions po;
  po.invert = InvertMode::kNever;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(preprocess_image({test.pixels.data() + i * 64, 8, 8, PixelFormat::kGray, 0}, tagger.input(), po,
                                 x.data() + i * 64)
                    .ok());
  }
  std::vector<float> probs, groups, emb;
  ASSERT_TRUE(tagger.run(x.data(), 3, &probs, &groups, &emb).ok());
  ASSERT_EQ(probs.size(), 9u);
  ASSERT_EQ(groups.size(), 6u);
  ASSERT_EQ(emb.size(), 24u);
  for (int i = 0; i < 3; ++i) {
    double sum = probs[i * 3] + probs[i * 3 + 1] + probs[i * 3 + 2];
    EXPECT_NEAR(sum, 1.0, 1e-5);
    EXPECT_NEAR(groups[i * 2], probs[i * 3] + probs[i * 3 + 1], 1e-5);
    EXPECT_NEAR(groups[i * 2 + 1], probs[i * 3 + 2], 1e-5);
    const int best = static_cast<int>(std::max_element(probs.begin() + i * 3, probs.begin() + i * 3 + 3) - (probs.begin() + i * 3));
    EXPECT_EQ(best, test.labels[i]) << i;
  }
  x[5] = std::nanf("");
  EXPECT_EQ(tagger.run(x.data(), 1, &probs, nullptr, nullptr).code(), StatusCode::kInvalidArgument);

  // Descriptions that disagree with the model are refused.
  Json bad = parse_json(R"({"input": {"height": 8, "width": 8, "channels": 1},
                            "labels": ["a", "b"], "outputs": {"logits": "logits"}})").value();
  EXPECT_FALSE(ImageTagger::create(m.value(), ctx.get(), &bad).ok());
  bad = parse_json(R"({"input": {"height": 9, "width": 8, "channels": 1}, "outputs": {"embedding": "embedding"}})").value();
  EXPECT_FALSE(ImageTagger::create(m.value(), ctx.get(), &bad).ok());
  bad = parse_json(R"({"input": {"height": 8, "width": 8, "channels": 1}, "outputs": {"embedding": "nope"}})").value();
  EXPECT_FALSE(ImageTagger::create(m.value(), ctx.get(), &bad).ok());
  // tag(): each kind's top k over the threshold, merged best first; with a head, custom tags too.
  x[5] = 0.0f;
  ASSERT_TRUE(tagger.run(x.data(), 3, &probs, &groups, &emb).ok());
  Result<std::vector<std::vector<Tag>>> tags = tagger.tag(x.data(), 3, nullptr, TagRequest{2, 0.0});
  ASSERT_TRUE(tags.ok()) << tags.status().to_string();
  ASSERT_EQ(tags->size(), 3u);
  for (int i = 0; i < 3; ++i) {
    const std::vector<Tag>& t = tags.value()[static_cast<size_t>(i)];
    EXPECT_EQ(t.size(), 4u);  // 2 classes + 2 groups
    for (size_t j = 1; j < t.size(); ++j) EXPECT_GE(t[j - 1].score, t[j].score);
    const Tag& best_class = *std::find_if(t.begin(), t.end(), [](const Tag& g) { return g.kind == TagKind::kClass; });
    EXPECT_EQ(best_class.label, o.labels[static_cast<size_t>(test.labels[i])]);
  }
  tags = tagger.tag(x.data(), 3, nullptr, TagRequest{3, 0.999});
  ASSERT_TRUE(tags.ok());
  for (const auto& t : tags.value()) {
    for (const Tag& g : t) EXPECT_GE(g.score, 0.999f);
  }
  EXPECT_EQ(tagger.tag(x.data(), 3, nullptr, TagRequest{0, 0.0}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(tagger.tag(x.data(), 3, nullptr, TagRequest{1, 1.5}).status().code(), StatusCode::kInvalidArgument);
  Result<std::unique_ptr<TagHead>> head = TagHead::train(emb.data(), 3, 8, {0, 1, 2}, {"l", "r", "t"}, {}, ctx.get());
  ASSERT_TRUE(head.ok()) << head.status().to_string();
  tags = tagger.tag(x.data(), 3, head.value().get(), TagRequest{1, 0.0});
  ASSERT_TRUE(tags.ok()) << tags.status().to_string();
  for (const auto& t : tags.value()) {
    ASSERT_EQ(t.size(), 3u);  // one class, one group, one custom tag
    EXPECT_EQ(std::count_if(t.begin(), t.end(), [](const Tag& g) { return g.kind == TagKind::kCustom; }), 1);
  }
  Result<std::vector<std::vector<Tag>>> classified = head.value()->classify(emb.data(), 3, TagRequest{2, 0.0});
  ASSERT_TRUE(classified.ok());
  EXPECT_EQ(classified->at(0).size(), 2u);
  EXPECT_STREQ(tag_kind_name(classified->at(0)[0].kind), "custom");

  Json embed_only = parse_json(R"({"input": {"height": 8, "width": 8, "channels": 1}, "outputs": {"embedding": "embedding"}})").value();
  Result<std::unique_ptr<ImageTagger>> fe = ImageTagger::create(m.value(), ctx.get(), &embed_only);
  ASSERT_TRUE(fe.ok()) << fe.status().to_string();
  EXPECT_FALSE(fe.value()->has_logits());
}

// Three clusters in 16 dimensions.
std::vector<float> clusters(int64_t per, std::vector<int32_t>* labels, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.0f, 0.3f);
  std::vector<float> e;
  for (int64_t i = 0; i < 3 * per; ++i) {
    const int32_t l = static_cast<int32_t>(i % 3);
    labels->push_back(l);
    for (int j = 0; j < 16; ++j) e.push_back((j % 3 == l ? 1.0f : 0.0f) + g(rng));
  }
  return e;
}

TEST(TagHead, LearnsSavesLoadsAndCancels) {
  auto ctx = Context::create(1, 1).value();
  std::vector<int32_t> labels, test_labels;
  std::vector<float> e = clusters(5, &labels, 1), test = clusters(20, &test_labels, 2);
  const std::vector<std::string> tags = {"red", "green", "blue"};
  Result<std::unique_ptr<TagHead>> h = TagHead::train(e.data(), 15, 16, labels, tags, {}, ctx.get());
  ASSERT_TRUE(h.ok()) << h.status().to_string();
  std::vector<float> p;
  ASSERT_TRUE(h.value()->predict(test.data(), 60, &p).ok());
  int correct = 0;
  for (int i = 0; i < 60; ++i) {
    const int best = static_cast<int>(std::max_element(p.begin() + i * 3, p.begin() + i * 3 + 3) - (p.begin() + i * 3));
    correct += best == test_labels[i];
  }
  EXPECT_GE(correct, 57);
  Result<std::vector<uint8_t>> saved = h.value()->save();
  ASSERT_TRUE(saved.ok());
  Result<std::unique_ptr<TagHead>> back = TagHead::load(std::make_shared<const std::vector<uint8_t>>(saved.value()));
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  EXPECT_EQ(back.value()->tags(), tags);
  std::vector<float> q;
  ASSERT_TRUE(back.value()->predict(test.data(), 60, &q).ok());
  EXPECT_EQ(p, q);

  int calls = 0;
  Result<std::unique_ptr<TagHead>> cancelled =
      TagHead::train(e.data(), 15, 16, labels, tags, {}, ctx.get(), [&](int64_t, int64_t, double) { return ++calls < 3; });
  EXPECT_EQ(cancelled.status().code(), StatusCode::kCancelled);
  EXPECT_EQ(calls, 3);
  EXPECT_FALSE(TagHead::train(e.data(), 15, 16, labels, {"only"}, {}, ctx.get()).ok());
  EXPECT_FALSE(TagHead::train(e.data(), 15, 16, labels, {"a", "b", "c", "never shown"}, {}, ctx.get()).ok());
  std::vector<float> nan = e;
  nan[7] = std::nanf("");
  EXPECT_FALSE(TagHead::train(nan.data(), 15, 16, labels, tags, {}, ctx.get()).ok());
  std::vector<uint8_t> junk(saved->begin(), saved->begin() + saved->size() / 2);
  EXPECT_FALSE(TagHead::load(std::make_shared<const std::vector<uint8_t>>(junk)).ok());
}

TEST(EmbeddingIndex, SearchesReplacesRemovesAndRejects) {
  EmbeddingIndex index(3);
  const float a[] = {1, 0, 0}, b[] = {0, 1, 0}, c[] = {1, 1, 0}, zero[] = {0, 0, 0};
  ASSERT_TRUE(index.add("a", a).ok());
  ASSERT_TRUE(index.add("b", b).ok());
  ASSERT_TRUE(index.add("c", c).ok());
  const float q[] = {2, 0.1f, 0};
  Result<std::vector<ScoredItem>> r = index.search(q, 2);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ(index.id(r.value()[0].item), "a");
  EXPECT_EQ(index.id(r.value()[1].item), "c");
  r = index.search(q, 5, "a");
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ(index.id(r.value()[0].item), "c");
  ASSERT_TRUE(index.add("a", b).ok());  // replace
  EXPECT_EQ(index.size(), 3);
  ASSERT_TRUE(index.remove("b").ok());
  EXPECT_EQ(index.remove("b").code(), StatusCode::kNotFound);
  EXPECT_FALSE(index.add("z", zero).ok());
  EXPECT_FALSE(index.add("", a).ok());
  EXPECT_FALSE(index.search(q, 0).ok());
}

}  // namespace
}  // namespace vitrine
