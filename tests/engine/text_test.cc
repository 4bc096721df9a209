// Review text: tokenizer (English, negation scopes, markup, emoji, Chinese, invalid UTF-8,
// truncation), vocabulary + BPE, and the bag-of-features classifier (training, save/load,
// fine-tuning, cancellation, hostile files).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <iterator>
#include <cmath>
#include <cstdio>
#include <map>
#include <random>

#include "vitrine/model_file.h"
#include "vitrine/text.h"

namespace vitrine {
namespace {

std::vector<std::string> texts(const TokenizedText& t) {
  std::vector<std::string> out;
  for (const Token& k : t.tokens) out.push_back((k.negated ? "~" : "") + k.text);
  return out;
}

TEST(Tokenize, EnglishNegationMarkupAndClauses) {
  TokenizedText t = tokenize("This Coffee is NOT good, but the price<br /><br />isn't bad! Don't buy.");
  EXPECT_EQ(texts(t), (std::vector<std::string>{"this", "coffee", "is", "not", "~good", "but", "the", "price", "isn't",
                                                "~bad", "!", "don't", "~buy"}));
  EXPECT_EQ(t.clauses.size(), 3u);
  EXPECT_EQ(t.tokens[4].clause, 0);
  EXPECT_EQ(t.tokens[5].clause, 1);
  EXPECT_EQ(t.text.find("<br"), std::string::npos);
  EXPECT_EQ(t.invalid_bytes, 0);
  EXPECT_FALSE(t.truncated);
  // A clause on its own tokenizes like its substring.
  for (size_t c = 0; c < t.clauses.size(); ++c) {
    const auto [b, e] = t.clauses[c];
    EXPECT_EQ(texts(clause_text(t, c)), texts(tokenize(t.text.substr(b, e - b)))) << c;
  }
  // Byte ranges point into the cleaned text.
  EXPECT_EQ(t.text.substr(t.tokens[1].begin, t.tokens[1].end - t.tokens[1].begin), "Coffee");
}

TEST(Tokenize, EmojiChineseAccentsAndBadBytes) {
  TokenizedText t = tokenize("Délicieux 😋👍🏽❤️ 很好吃！不好");
  EXPECT_EQ(texts(t), (std::vector<std::string>{"délicieux", "😋", "👍", "❤", "很", "好", "吃", "!", "不", "好"}));
  EXPECT_EQ(t.tokens[1].kind, TokenKind::kEmoji);
  EXPECT_EQ(t.tokens[4].kind, TokenKind::kCjk);
  EXPECT_GE(t.clauses.size(), 2u);
  const std::string bad = std::string("ok \xff\xfe caf\xc3") + "\xa9 \xe4\xb8";  // two bad bytes, a valid é, a truncated CJK
  TokenizedText b = tokenize(bad);
  EXPECT_EQ(b.invalid_bytes, 4);
  EXPECT_EQ(texts(b), (std::vector<std::string>{"ok", "café"}));
  EXPECT_TRUE(tokenize("").tokens.empty());
  EXPECT_TRUE(tokenize("   \n\t ").tokens.empty());
  // Truncation never splits a character.
  TokenizedText cut = tokenize("ab好c", 3);
  EXPECT_TRUE(cut.truncated);
  EXPECT_EQ(cut.text, "ab");
}

TEST(TextVocab, LearnsWordsBpeAndRoundTrips) {
  std::vector<TokenizedText> corpus;
  for (int i = 0; i < 20; ++i) corpus.push_back(tokenize("tasty tasting taste tastes not tasty, great great"));
  corpus.push_back(tokenize("rareword"));
  TextVocab::Options o;
  o.min_count = 2;
  o.bpe_merges = 50;
  o.bigram_buckets = 64;
  TextVocab v = TextVocab::learn(corpus, o);
  EXPECT_GT(v.entries(), 5);
  EXPECT_EQ(v.size(), v.entries() + 64);
  // A new word sharing the frequent stem is split into known pieces.
  std::vector<std::string> p = v.pieces("tasteful");
  ASSERT_GE(p.size(), 2u);
  EXPECT_EQ(p[0].substr(0, 4), "tast");
  std::vector<int32_t> ids, from;
  v.features(tokenize("tasteful great"), &ids, &from);
  EXPECT_GE(ids.size(), 3u);  // pieces, "great", one bigram
  EXPECT_EQ(ids.size(), from.size());
  Json j = v.to_json();
  Result<TextVocab> back = TextVocab::from_json(j.ref());
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  std::vector<int32_t> ids2;
  back->features(tokenize("tasteful great"), &ids2, nullptr);
  EXPECT_EQ(ids, ids2);
  Json bad = parse_json(R"({"entries": ["a", "a"], "merges": [], "bigram_buckets": 4})").value();
  EXPECT_EQ(TextVocab::from_json(bad.ref()).status().code(), StatusCode::kDataLoss);
}

// Character n-grams of lengths 2..3 over " ab cé " (7 code points, "é" is two bytes): 6 + 5.
TEST(TextVocab, CharacterNgramsSpanWordsAndRoundTrip) {
  std::vector<TokenizedText> corpus = {tokenize("ab cé")};
  TextVocab::Options o;
  o.min_count = 100;  // no words, no merges: only character n-grams give features
  o.bpe_merges = 0;
  o.bigram_buckets = 0;
  o.char_buckets = 1 << 20;
  o.char_min = 2;
  o.char_max = 3;
  TextVocab v = TextVocab::learn(corpus, o);
  EXPECT_EQ(v.size(), v.entries() + (1 << 20));
  std::vector<int32_t> ids, from;
  v.features(tokenize("AB  cé"), &ids, &from);  // the same tokens: case and spacing normalized
  // " ab cé ": code points ' ',a,b,' ',c,é,' ' -> 6 bigrams and 5 trigrams.
  ASSERT_EQ(ids.size(), 11u);
  ASSERT_EQ(from.size(), 11u);
  for (int32_t id : ids) {
    EXPECT_GE(id, v.entries());
    EXPECT_LT(id, v.size());
  }
  // The n-grams ending in "ab" or its trailing space belong to token 0, the rest to token 1.
  EXPECT_EQ(std::count(from.begin(), from.end(), 0), 5);
  EXPECT_EQ(std::count(from.begin(), from.end(), 1), 6);
  // "b c" spans the two words: "ab cd" shares it, "ab" + "xcd" in other words does not.
  std::vector<int32_t> other;
  v.features(tokenize("ab cd"), &other, nullptr);
  std::vector<int32_t> shared;
  std::vector<int32_t> a = ids, b = other;
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  std::set_intersection(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(shared));
  EXPECT_EQ(shared.size(), 7u);  // " a", "ab", " ab", "b ", "ab ", " c", "b c"
  // Round trip through JSON keeps the n-gram settings.
  Result<TextVocab> back = TextVocab::from_json(v.to_json().ref());
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  std::vector<int32_t> ids2;
  back->features(tokenize("ab cé"), &ids2, nullptr);
  EXPECT_EQ(ids, ids2);
  // Crafted settings are refused as DataLoss.
  for (const char* bad : {R"({"entries": [], "merges": [], "bigram_buckets": 0, "char_buckets": 4, "char_min": 0, "char_max": 3})",
                          R"({"entries": [], "merges": [], "bigram_buckets": 0, "char_buckets": 4, "char_min": 4, "char_max": 3})",
                          R"({"entries": [], "merges": [], "bigram_buckets": 0, "char_buckets": 4, "char_min": 1, "char_max": 9})",
                          R"({"entries": [], "merges": [], "bigram_buckets": 0, "char_buckets": -1})",
                          R"({"entries": [], "merges": [], "bigram_buckets": 0, "char_buckets": 99999999999})"}) {
    Json j = parse_json(bad).value();
    EXPECT_EQ(TextVocab::from_json(j.ref()).status().code(), StatusCode::kDataLoss) << bad;
  }
  // A long review costs (char_max - char_min + 1) features per character, no more.
  std::string lng(5000, 'x');
  v.features(tokenize(lng), &ids, nullptr);
  EXPECT_EQ(ids.size(), 2u * 5002u - 1u - 2u);  // 5002 characters with the spaces: 5001 bigrams, 5000 trigrams
}

// The plain BPE: rescan every pair, merge the lowest rank (leftmost on ties) until none is left.
// O(n^2) per word; the reference for TextVocab::pieces.
std::vector<std::string> reference_pieces(const std::string& word, const std::map<std::string, int32_t>& rank) {
  std::vector<std::string> syms;
  for (size_t i = 0; i < word.size();) {
    size_t n = 1;
    while (i + n < word.size() && (static_cast<unsigned char>(word[i + n]) & 0xC0) == 0x80) ++n;
    syms.push_back(word.substr(i, n));
    i += n;
  }
  for (;;) {
    int32_t best = -1;
    size_t at = 0;
    for (size_t i = 0; i + 1 < syms.size(); ++i) {
      auto it = rank.find(syms[i] + " " + syms[i + 1]);
      if (it != rank.end() && (best < 0 || it->second < best)) best = it->second, at = i;
    }
    if (best < 0) return syms;
    syms[at] += syms[at + 1];
    syms.erase(syms.begin() + static_cast<std::ptrdiff_t>(at) + 1);
  }
}

// Words over a small alphabet (with a two-byte letter): many repeated pairs, merges of every rank.
std::string random_word(std::mt19937& rng, size_t max_len) {
  static const char* letters[] = {"a", "b", "c", "d", "é", "e"};
  std::string w;
  const size_t n = 1 + rng() % max_len;
  for (size_t i = 0; i < n; ++i) w += letters[rng() % 6];
  return w;
}

TextVocab random_vocab() {
  std::mt19937 rng(7);
  std::vector<TokenizedText> corpus;
  for (int i = 0; i < 400; ++i) {
    std::string text;
    for (int k = 0; k < 10; ++k) text += random_word(rng, 12) + " ";
    corpus.push_back(tokenize(text));
  }
  TextVocab::Options o;
  o.min_count = 1000;  // no whole words: everything goes through BPE
  o.bpe_merges = 300;
  o.bigram_buckets = 64;
  return TextVocab::learn(corpus, o);
}

TEST(TextVocab, PiecesMatchThePlainBpe) {
  TextVocab v = random_vocab();
  std::map<std::string, int32_t> rank;
  const Json j = v.to_json();
  const Json::Array* merges = j.ref()["merges"].as_array().value();
  ASSERT_GT(merges->size(), 100u);
  for (size_t i = 0; i < merges->size(); ++i) rank[j.ref()["merges"][i].as_string().value()] = static_cast<int32_t>(i);
  std::mt19937 rng(11);
  for (int i = 0; i < 3000; ++i) {
    const std::string w = random_word(rng, i < 2900 ? 24 : 400);
    std::vector<std::string> want;  // merged window by window
    size_t begin = 0, chars = 0;
    for (size_t i = 0; i <= w.size(); ++i) {
      if (i < w.size() && (static_cast<unsigned char>(w[i]) & 0xC0) == 0x80) continue;
      if (chars++ % TextVocab::kBpeWindow == 0 && i > 0 || i == w.size()) {
        for (std::string& p : reference_pieces(w.substr(begin, i - begin), rank)) want.push_back(std::move(p));
        begin = i;
      }
    }
    ASSERT_EQ(v.pieces(w), want) << w;
  }
  EXPECT_TRUE(v.pieces("").empty());
}

// Everything a review goes through in analyze(): tokens, features, and each clause on its own.
size_t analyze_work(const TextVocab& v, const std::string& text) {
  std::vector<int32_t> ids, from;
  TokenizedText t = tokenize(text);
  v.features(t, &ids, &from);
  size_t n = ids.size();
  for (size_t c = 0; c < t.clauses.size(); ++c) {
    v.features(clause_text(t, c), &ids, &from);
    n += ids.size();
  }
  return n;
}

volatile size_t g_sink = 0;  // keeps the timed work from being optimized away

double seconds_per_byte(const TextVocab& v, const std::string& text, int repeats) {
  double best = 1e9;
  for (int r = 0; r < 3; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    size_t sink = 0;
    for (int i = 0; i < repeats; ++i) sink += analyze_work(v, text);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    g_sink = g_sink + sink;
    best = std::min(best, s / repeats / static_cast<double>(text.size()));
  }
  return best;
}

TEST(Tokenize, HostileTwentyKilobyteReviewsTakeLinearTime) {
  TextVocab v = random_vocab();
  std::string normal;  // ~400 bytes of ordinary review text
  while (normal.size() < 400) normal += "The coffee was not bad, but <b>the</b> bag arrived late! Great taste. ";
  const double base = seconds_per_byte(v, normal, 200);
  auto repeat = [](const std::string& unit) {
    std::string s;
    while (s.size() + unit.size() <= 20000) s += unit;
    return s;
  };
  std::mt19937 rng(3);
  std::string long_word;
  while (long_word.size() < 20000) long_word += random_word(rng, 8);
  const std::vector<std::pair<const char*, std::string>> hostile = {
      {"one 20 KB word", long_word},
      {"unclosed tags", repeat("<a")},
      {"unclosed tags with words", repeat("<b abc ")},
      {"empty clauses", repeat(".")},
      {"one-word clauses", repeat("ab.")},
      {"apostrophes", "a" + repeat("'")},
      {"emoji", repeat("😋")},
      {"negations", repeat("not ")},
  };
  for (const auto& [name, text] : hostile) {
    const double per_byte = seconds_per_byte(v, text, 2);
    // A quadratic pass is hundreds of times slower per byte at 20 KB; linear work stays near 1x.
    std::printf("%s: %.1f ns/byte (400-byte review: %.1f)\n", name, per_byte * 1e9, base * 1e9);
    EXPECT_LT(per_byte, 10 * base) << name << ": " << per_byte * 1e9 << " ns/byte vs " << base * 1e9 << " ns/byte";
  }
}

std::vector<ReviewExample> corpus(int n, uint32_t seed) {
  const std::vector<std::string> good = {"great taste", "love it", "delicious and fresh", "excellent value", "my favorite snack"};
  const std::vector<std::string> bad = {"stale and awful", "not good", "terrible taste", "arrived broken", "waste of money"};
  std::mt19937 rng(seed);
  std::vector<ReviewExample> out;
  for (int i = 0; i < n; ++i) {
    const bool pos = i % 2 == 0;
    const auto& pool = pos ? good : bad;
    out.push_back({"The coffee: " + pool[rng() % pool.size()] + ". " + pool[rng() % pool.size()] + "!", pos ? 1 : 0});
  }
  return out;
}

TEST(ReviewModel, TrainsPredictsExplainsSavesAndFineTunes) {
  auto ctx = Context::create(1, 1).value();
  // The three poolings, and NB pooling with character n-grams as a second bag.
  for (const char* nb : {"mean", "nb", "tfidf", "nb+chars"}) {
    const bool chars = std::string(nb) == "nb+chars";
    ReviewTrainOptions o;
    o.dim = 8;
    o.epochs = 20;
    o.weighting = chars ? "nb" : nb;
    o.vocab.bigram_buckets = 256;
    if (chars) {
      o.vocab.char_buckets = 4096;
      o.vocab.bpe_merges = 0;
      o.max_features = 2048;
    }
    Result<std::unique_ptr<ReviewModel>> m = ReviewModel::train(corpus(200, 1), {"other", "great"}, o, ctx.get());
    ASSERT_TRUE(m.ok()) << m.status().to_string();
    int right = 0;
    for (const ReviewExample& e : corpus(100, 2)) right += m.value()->predict(tokenize(e.text))->label == e.label;
    EXPECT_GE(right, 95) << "nb " << nb;
    Result<ReviewModel::Prediction> p = m.value()->predict(tokenize("delicious and fresh, but arrived broken"));
    ASSERT_TRUE(p.ok());
    ASSERT_EQ(p->token_weights.size(), 6u);
    EXPECT_GT(p->token_weights[0], 0.0f) << "delicious";
    EXPECT_LT(p->token_weights[5], 0.0f) << "broken";
    if (chars) {
      // Misspelled words the vocabulary never saw (and BPE cannot piece together: no merges
      // here) still read by their character n-grams, clearly off the prior.
      EXPECT_GT(m.value()->predict(tokenize("deliciuos excelent"))->probabilities[1], 0.8f);
      EXPECT_LT(m.value()->predict(tokenize("terrrible stalle"))->probabilities[1], 0.2f);
    }
    // Empty text: the prior, no crash.
    Result<ReviewModel::Prediction> empty = m.value()->predict(tokenize(""));
    ASSERT_TRUE(empty.ok());
    EXPECT_NEAR(empty->probabilities[0] + empty->probabilities[1], 1.0, 1e-6);
    // Save / load gives the same probabilities (f32), close ones (f16).
    ASSERT_TRUE(m.value()->set_threshold(0.6).ok());
    EXPECT_FALSE(m.value()->set_threshold(1.0).ok());
    for (bool half : {false, true}) {
      Result<std::vector<uint8_t>> bytes = m.value()->save(half);
      ASSERT_TRUE(bytes.ok());
      Result<std::unique_ptr<ReviewModel>> back = ReviewModel::load(std::make_shared<const std::vector<uint8_t>>(bytes.value()), ctx.get());
      ASSERT_TRUE(back.ok()) << back.status().to_string();
      EXPECT_EQ(back.value()->threshold(), 0.6);
      Result<ReviewModel::Prediction> q = back.value()->predict(tokenize("delicious and fresh, but arrived broken"));
      EXPECT_NEAR(q->probabilities[1], p->probabilities[1], half ? 2e-3 : 0.0);
    }
    // Fine-tuning on flipped labels moves the prediction; a cancelled run changes nothing.
    const float before = m.value()->predict(tokenize("great taste"))->probabilities[1];
    int calls = 0;
    std::vector<ReviewExample> flipped = {{"great taste", 0}, {"great taste!", 0}, {"awful", 1}};
    EXPECT_EQ(m.value()->fine_tune(flipped, 5, 0.05, [&](int64_t, int64_t, double) { return ++calls < 2; }).code(),
              StatusCode::kCancelled);
    EXPECT_EQ(m.value()->predict(tokenize("great taste"))->probabilities[1], before);
    ASSERT_TRUE(m.value()->fine_tune(flipped, 30, 0.05).ok());
    EXPECT_LT(m.value()->predict(tokenize("great taste"))->probabilities[1], before);
    EXPECT_FALSE(m.value()->fine_tune({{"x", 7}}, 1, 0.05).ok());
  }
  // Hostile bytes and wrong files.
  std::vector<uint8_t> junk = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  EXPECT_FALSE(ReviewModel::load(std::make_shared<const std::vector<uint8_t>>(junk), ctx.get()).ok());
  EXPECT_FALSE(ReviewModel::train({}, {"a", "b"}, {}, ctx.get()).ok());
  EXPECT_FALSE(ReviewModel::train(corpus(10, 1), {"only"}, {}, ctx.get()).ok());
  ReviewTrainOptions bad_chars;
  bad_chars.vocab.char_buckets = 16;
  bad_chars.vocab.char_min = 5;
  bad_chars.vocab.char_max = 4;
  EXPECT_EQ(ReviewModel::train(corpus(10, 1), {"a", "b"}, bad_chars, ctx.get()).status().code(), StatusCode::kInvalidArgument);
  bad_chars.vocab.char_min = 3;
  bad_chars.vocab.char_buckets = int64_t{1} << 30;
  EXPECT_EQ(ReviewModel::train(corpus(10, 1), {"a", "b"}, bad_chars, ctx.get()).status().code(), StatusCode::kInvalidArgument);
  // Options each within range whose sum passes the float-exact id limit (2^24), or whose table
  // would not fit: refused before anything is allocated.
  ReviewTrainOptions wide;
  wide.vocab.bigram_buckets = int64_t{1} << 24;
  wide.vocab.char_buckets = int64_t{1} << 24;
  EXPECT_EQ(ReviewModel::train(corpus(10, 1), {"a", "b"}, wide, ctx.get()).status().code(), StatusCode::kInvalidArgument);
  wide.vocab.char_buckets = 0;
  wide.vocab.bigram_buckets = int64_t{1} << 23;
  wide.dim = 256;
  EXPECT_EQ(ReviewModel::train(corpus(10, 1), {"a", "b"}, wide, ctx.get()).status().code(), StatusCode::kResourceExhausted);
  wide.dim = int64_t{1} << 62;
  EXPECT_EQ(ReviewModel::train(corpus(10, 1), {"a", "b"}, wide, ctx.get()).status().code(), StatusCode::kResourceExhausted);
  ReviewTrainOptions big_bag;
  big_bag.max_features = 1 << 20;
  EXPECT_EQ(ReviewModel::train(corpus(10, 1), {"a", "b"}, big_bag, ctx.get()).status().code(), StatusCode::kInvalidArgument);
}

// Hashed buckets no training review fell into start (and, never getting a gradient, stay) at
// zero: an unseen bigram or n-gram adds nothing. Every bucket a training review has is trained.
TEST(ReviewModel, UnseenHashedFeaturesAddNothing) {
  auto ctx = Context::create(1, 1).value();
  const std::vector<ReviewExample> train = corpus(200, 1);
  ReviewTrainOptions o;
  o.dim = 4;
  o.epochs = 2;
  o.weighting = "nb";
  o.vocab.bigram_buckets = 512;
  o.vocab.char_buckets = 2048;
  o.max_features = 2048;
  Result<std::unique_ptr<ReviewModel>> m = ReviewModel::train(train, {"other", "great"}, o, ctx.get());
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  const TextVocab& v = m.value()->vocab();
  std::vector<bool> seen(static_cast<size_t>(v.size()), false);
  std::vector<int32_t> ids;
  for (const ReviewExample& e : train) {
    v.features(tokenize(e.text), &ids, nullptr);
    for (int32_t id : ids) seen[static_cast<size_t>(id)] = true;
  }
  Result<std::vector<uint8_t>> bytes = m.value()->save(false);
  ASSERT_TRUE(bytes.ok());
  Result<LoadedModel> lm = load_model(std::make_shared<const std::vector<uint8_t>>(bytes.value()));
  ASSERT_TRUE(lm.ok());
  const Tensor& table = lm->graph->value(lm->graph->find("table").value()).constant;
  ASSERT_EQ(table.shape(), (Shape{v.size(), 4}));
  int64_t unseen = 0;
  for (int64_t f = 0; f < v.size(); ++f) {
    const float* row = table.data() + f * 4;
    const bool zero = row[0] == 0 && row[1] == 0 && row[2] == 0 && row[3] == 0;
    EXPECT_EQ(zero, !seen[static_cast<size_t>(f)]) << "feature " << f;
    unseen += !seen[static_cast<size_t>(f)];
  }
  EXPECT_GT(unseen, 1000);  // most of the 2,560 buckets: the corpus is ten phrases
}

// The whole prediction (tokens, words, character n-grams, the de-duplicated bag) of a model with
// character n-grams stays linear on hostile 20 KB reviews too.
TEST(ReviewModel, CharacterNgramPredictionTakesLinearTime) {
  auto ctx = Context::create(1, 1).value();
  ReviewTrainOptions o;
  o.dim = 4;
  o.epochs = 1;
  o.weighting = "nb";
  o.vocab.char_buckets = 1 << 16;
  o.max_features = 8192;
  std::unique_ptr<ReviewModel> m = ReviewModel::train(corpus(100, 1), {"other", "great"}, o, ctx.get()).value();
  int failures = 0;
  auto per_byte = [&](const std::string& text, int repeats) -> double {
    double best = 1e9;
    for (int r = 0; r < 3; ++r) {
      const auto t0 = std::chrono::steady_clock::now();
      for (int i = 0; i < repeats; ++i) failures += m->predict(tokenize(text)).ok() ? 0 : 1;
      best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / repeats / static_cast<double>(text.size()));
    }
    return best;
  };
  std::string normal;
  while (normal.size() < 400) normal += "The coffee was not bad, but <b>the</b> bag arrived late! Great taste. ";
  const double base = per_byte(normal, 200);
  std::string many_words, one_word(20000, 'q'), emoji;
  while (many_words.size() < 20000) many_words += "delicious fresh coffee, arrived broken! ";
  while (emoji.size() < 20000) emoji += "😋";
  for (const auto& [name, text] : std::vector<std::pair<const char*, std::string>>{
           {"20 KB of review words", many_words}, {"one 20 KB word", one_word}, {"20 KB of emoji", emoji}}) {
    const double p = per_byte(text, 3);
    std::printf("%s: %.1f ns/byte (400-byte review: %.1f)\n", name, p * 1e9, base * 1e9);
    EXPECT_LT(p, 10 * base) << name;
  }
  EXPECT_EQ(failures, 0);
}

TEST(KeywordAspects, MatchesWholeTokensAndPrefixesAndRefusesBadLists) {
  Result<std::unique_ptr<KeywordAspects>> k =
      KeywordAspects::create({{"taste", {"Flavor*", "bland"}}, {"price", {"cheap*", "value"}}, {"both", {"flavorless"}}});
  ASSERT_TRUE(k.ok()) << k.status().to_string();
  std::vector<int32_t> found;
  k.value()->detect(tokenize("So FLAVORLESS and cheaply made, good value"), &found);
  EXPECT_EQ(found, (std::vector<int32_t>{0, 1, 2}));
  found.clear();
  k.value()->detect(tokenize("flavo blandness"), &found);  // neither a whole keyword nor a prefix match
  EXPECT_TRUE(found.empty());
  EXPECT_EQ(KeywordAspects::create({{"a", {}}}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(KeywordAspects::create({{"a", {""}}}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(KeywordAspects::create({{"a", {"x"}}, {"a", {"y"}}}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(KeywordAspects::create(std::vector<KeywordAspects::Aspect>(300, {"a", {"x"}})).status().code(),
            StatusCode::kResourceExhausted);
  Json bad = parse_json(R"({"taste": "yum"})").value();
  EXPECT_EQ(KeywordAspects::from_json(bad.ref()).status().code(), StatusCode::kInvalidArgument);
}

TEST(AnalyzeReview, SentimentWordsAndTheStrongestClausePerAspect) {
  auto ctx = Context::create(1, 1).value();
  ReviewTrainOptions o;
  o.dim = 8;
  o.epochs = 20;
  o.vocab.bigram_buckets = 256;
  std::unique_ptr<ReviewModel> m = ReviewModel::train(corpus(200, 1), {"other", "great"}, o, ctx.get()).value();
  std::unique_ptr<KeywordAspects> k = KeywordAspects::create({{"taste", {"tast*", "delicious"}}, {"delivery", {"arriv*"}}}).value();
  ReviewRequest r;
  r.text = "  Delicious and fresh.  The taste: terrible taste. It arrived broken ";
  Result<ReviewAnalysis> a = analyze_review(*m, k.get(), r);
  ASSERT_TRUE(a.ok()) << a.status().to_string();
  ASSERT_EQ(a->aspects.size(), 2u);
  EXPECT_EQ(k->names()[static_cast<size_t>(a->aspects[0].aspect)], "taste");
  EXPECT_EQ(k->names()[static_cast<size_t>(a->aspects[1].aspect)], "delivery");
  EXPECT_FALSE(a->aspects[1].positive);
  EXPECT_EQ(a->aspects[1].snippet, "It arrived broken");
  // The taste clause that speaks most strongly either way, trimmed.
  const TokenizedText t = tokenize(r.text);
  float strongest = 0;
  std::string want;
  for (size_t c = 0; c < t.clauses.size(); ++c) {
    const TokenizedText ct = clause_text(t, c);
    std::vector<int32_t> f;
    k->detect(ct, &f);
    if (f.empty() || f[0] != 0) continue;
    const float s = m->predict(ct)->probabilities[1];
    if (std::fabs(s - 0.5f) > strongest) strongest = std::fabs(s - 0.5f), want = ct.text;
  }
  EXPECT_EQ(a->aspects[0].snippet, want.substr(want.find_first_not_of(' '), want.find_last_not_of(' ') - want.find_first_not_of(' ') + 1));
  EXPECT_EQ(a->aspects[0].positive, a->aspects[0].score >= m->threshold());
  // A clause is cut at contrast words, each part judged on its own, the word itself left out; an
  // aspect threshold of the caller's replaces the model's; one above 1 is refused.
  ReviewRequest c;
  c.text = "Delicious taste but it arrived broken";
  c.aspect_threshold = 0.1;
  a = analyze_review(*m, k.get(), c);
  ASSERT_TRUE(a.ok());
  ASSERT_EQ(a->aspects.size(), 2u);
  EXPECT_EQ(a->aspects[0].snippet, "Delicious taste");
  EXPECT_EQ(a->aspects[1].snippet, "it arrived broken");
  for (const auto& x : a->aspects) EXPECT_EQ(x.positive, x.score >= 0.1f) << x.snippet;
  c.aspect_threshold = 1.5;
  EXPECT_EQ(analyze_review(*m, k.get(), c).status().code(), StatusCode::kInvalidArgument);
  c.aspect_threshold = std::numeric_limits<double>::quiet_NaN();
  EXPECT_EQ(analyze_review(*m, k.get(), c).status().code(), StatusCode::kInvalidArgument);
  // Words: the strongest first, negation spelled out.
  r.text = "not good, delicious";
  r.top_words = 2;
  a = analyze_review(*m, k.get(), r);
  ASSERT_TRUE(a.ok());
  ASSERT_EQ(a->words.size(), 2u);
  EXPECT_GE(std::fabs(a->words[0].weight), std::fabs(a->words[1].weight));
  bool negated = false;
  for (const auto& w : a->words) negated |= w.text == "not good";
  EXPECT_TRUE(negated);
  // No detector or aspects off: no aspects; bad requests are refused.
  r.aspects = false;
  EXPECT_TRUE(analyze_review(*m, k.get(), r)->aspects.empty());
  EXPECT_TRUE(analyze_review(*m, nullptr, ReviewRequest{"delicious", 100, true, 5})->aspects.empty());
  EXPECT_EQ(analyze_review(*m, k.get(), ReviewRequest{"x", 0, true, 5}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(analyze_review(*m, k.get(), ReviewRequest{"x", 10, true, -1}).status().code(), StatusCode::kInvalidArgument);
  // Truncation at a character boundary is reported.
  ReviewRequest cut{"delicious 好吃", 12, true, 5};
  a = analyze_review(*m, k.get(), cut);
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(a->truncated);
}

TEST(ReviewSummary, CountsAspectsKeepsTheStrongestSnippetsAndRanks) {
  ReviewSummary s({"taste", "price", "size"});
  auto analysis = [](int32_t label, std::vector<ReviewAnalysis::Aspect> aspects, bool truncated = false) {
    ReviewAnalysis a;
    a.label = label;
    a.aspects = std::move(aspects);
    a.truncated = truncated;
    return a;
  };
  s.add(analysis(1, {{0, 0.9f, true, "tasty"}, {1, 0.2f, false, "pricey"}}));
  s.add(analysis(1, {{0, 0.95f, true, "very tasty"}, {1, 0.7f, true, "fair price"}}, true));
  s.add(analysis(0, {{0, 0.1f, false, "bland"}, {0, 0.05f, false, "awful"}, {7, 0.5f, true, "ignored"}}));
  EXPECT_EQ(s.count(), 3);
  EXPECT_EQ(s.positive(), 2);
  EXPECT_EQ(s.truncated(), 1);
  const ReviewSummary::Aspect& taste = s.aspects()[0];
  EXPECT_EQ(taste.mentions, 4);
  EXPECT_EQ(taste.positive, 2);
  EXPECT_EQ(taste.negative, 2);
  EXPECT_EQ(taste.praise, "very tasty");
  EXPECT_EQ(taste.complaint, "awful");
  EXPECT_EQ(s.aspects()[2].mentions, 0);
  EXPECT_FALSE(s.aspects()[2].has_praise);
  EXPECT_EQ(s.praised(), (std::vector<std::string>{"taste", "price"}));
  EXPECT_EQ(s.criticized(1), (std::vector<std::string>{"taste"}));
}

}  // namespace
}  // namespace vitrine
