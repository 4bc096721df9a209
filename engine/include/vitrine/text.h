// Review text on the device: UTF-8 normalization and tokenization, a vocabulary with BPE subwords
// learned from a corpus, and a fastText-style sentiment classifier (bag of word, subword,
// word-bigram and character n-gram embeddings -> dense) trained by the engine's Trainer.
//
// Tokenization (tokenize()): invalid UTF-8 bytes become U+FFFD (counted); HTML line breaks and tags
// are dropped; letters are lower-cased (ASCII, Latin-1, Latin Extended-A, Greek, Cyrillic); words
// are runs of letters / digits / inner apostrophes; each CJK ideograph, kana or hangul syllable is
// its own token (the character-level path: no labelled CJK data exists here, but such text gets
// sensible tokens and no crash); each emoji is its own token (variation selectors, ZWJ and skin
// tones dropped); "!" and "?" are tokens; ".,;:!?" end a clause. Negation scope: after "not",
// "no", "never", "n't" … up to the end of the clause, words are marked negated and become
// "not_<word>" features (Das & Chen 2001).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "vitrine/context.h"
#include "vitrine/json.h"
#include "vitrine/model_file.h"
#include "vitrine/status.h"

namespace vitrine {

enum class TokenKind { kWord, kCjk, kEmoji, kPunct };

struct Token {
  std::string text;     // normalized (lower-cased) UTF-8
  TokenKind kind = TokenKind::kWord;
  bool negated = false; // inside a negation scope
  int32_t clause = 0;   // clause index (0-based)
  size_t begin = 0, end = 0;  // byte range in the cleaned input (see TokenizedText::text)
};

struct TokenizedText {
  std::string text;                // the input with invalid bytes replaced and markup removed
  std::vector<Token> tokens;
  std::vector<std::pair<size_t, size_t>> clauses;  // byte ranges of the clauses in `text`
  int64_t invalid_bytes = 0;       // invalid UTF-8 bytes replaced by U+FFFD
  bool truncated = false;          // longer than max_bytes: cut at a character boundary
};

// Tokenizes at most `max_bytes` bytes of `utf8` (the rest is dropped and `truncated` set).
TokenizedText tokenize(std::string_view utf8, size_t max_bytes = 1 << 20);

// Clause `index` of `t` (a range of t.clauses) as a text of its own: its substring and its tokens
// (what tokenize() of that substring gives: clauses end negation scopes and bigrams anyway).
TokenizedText clause_text(const TokenizedText& t, size_t index);

// A vocabulary: frequent words (with their negated forms), BPE merges for the rest, hashed word
// bigrams and hashed character n-grams. Feature ids: [0, words) words and subwords, then
// bigram_buckets bigram ids, then char_buckets character n-gram ids.
//
// Character n-grams (char_min..char_max code points) run over the tokens' normalized text joined
// by single spaces, with a space before the first and after the last token, so they span word
// boundaries ("t good" carries a negation, "oooo" an emphasis) and catch misspellings a word
// vocabulary misses. Each n-gram is counted for the token that holds its last character.
class TextVocab {
 public:
  struct Options {
    int64_t min_count = 2;       // words seen fewer times are split into BPE pieces
    int64_t max_words = 30000;
    int64_t bpe_merges = 2000;   // merges learned over the rare words' characters
    int64_t bigram_buckets = 50000;   // 0 = no bigrams
    int64_t char_buckets = 0;         // 0 = no character n-grams
    int64_t char_min = 3, char_max = 6;  // n-gram lengths in code points, 1 <= min <= max <= 8
  };
  // Learns from tokenized training texts.
  static TextVocab learn(const std::vector<TokenizedText>& corpus, const Options& options);
  static Result<TextVocab> from_json(const JsonRef& j);
  Json to_json() const;

  int64_t size() const { return static_cast<int64_t>(entries_.size()) + buckets_ + char_buckets_; }
  int64_t entries() const { return static_cast<int64_t>(entries_.size()); }
  // The first character n-gram id (== size() when there are none).
  int64_t char_base() const { return static_cast<int64_t>(entries_.size()) + buckets_; }
  // Feature ids of a text, and for each feature the index of the token it came from (bigrams: the
  // second token).
  void features(const TokenizedText& t, std::vector<int32_t>* ids, std::vector<int32_t>* token_of) const;
  // BPE pieces of one word: the lowest-ranked merge first (leftmost on ties), O(n log n). A word
  // longer than kBpeWindow characters (no real word is) is merged window by window, so that a
  // hostile 20 KB "word" costs per byte what ordinary words do.
  static constexpr int32_t kBpeWindow = 64;
  std::vector<std::string> pieces(const std::string& word) const;

 private:
  std::vector<std::string> entries_;
  std::unordered_map<std::string, int32_t> index_;
  std::vector<std::pair<std::string, std::string>> merges_;
  std::unordered_map<std::string, int32_t> merge_rank_;  // "a b" -> rank
  int64_t buckets_ = 0;
  int64_t char_buckets_ = 0, char_min_ = 3, char_max_ = 6;
};

struct ReviewTrainOptions {
  int64_t dim = 24;
  int64_t epochs = 10;
  int64_t batch_size = 32;
  double learning_rate = 0.01;
  double weight_decay = 0.0;
  int64_t max_features = 512;  // per review, <= 65536 (longer reviews keep their first features;
                               // with character n-grams raise it: each character adds
                               // char_max - char_min + 1 of them)
  // How a review's feature embeddings are pooled:
  //   "mean"   the mean of e_f over its features (fastText)
  //   "nb"     features made unique, weighted by their naive-Bayes log-count ratio r_f (Wang &
  //            Manning 2012, as feature scaling; binary labels only): sum_f r_f e_f / n, where
  //            with character n-grams words and n-grams are two bags, each divided by its own n
  //            (a review has many more n-grams than words)
  //   "tfidf"  sum_f w_f e_f with w = sublinear tf (1 + ln count) x idf, L2-normalized per review
  std::string weighting = "mean";
  double nb_alpha = 1.0;
  uint32_t seed = 20261128;
  TextVocab::Options vocab;
};

struct ReviewExample {
  std::string text;
  int32_t label = 0;  // index into labels
};

using ReviewProgressFn = std::function<bool(int64_t epoch, int64_t epochs, double loss)>;

// A trained review classifier: the vocabulary, the bag-of-features model and its labels.
class ReviewModel {
 public:
  // Trains a new model (labels: class names, e.g. {"other", "great"}). `ctx` is not owned.
  static Result<std::unique_ptr<ReviewModel>> train(const std::vector<ReviewExample>& examples,
                                                    const std::vector<std::string>& labels, const ReviewTrainOptions& options,
                                                    Context* ctx, const ReviewProgressFn& progress = nullptr);
  // A model file saved by save() (metadata "review": vocabulary, labels, settings).
  static Result<std::unique_ptr<ReviewModel>> load(std::shared_ptr<const std::vector<uint8_t>> bytes, Context* ctx);
  Result<std::vector<uint8_t>> save(bool half = false) const;

  const std::vector<std::string>& labels() const { return labels_; }
  int64_t dim() const { return dim_; }
  double threshold() const { return threshold_; }
  // Decision threshold on P(labels[1]) (tuned on validation data for macro-F1); in (0, 1).
  Status set_threshold(double t);

  struct Prediction {
    std::vector<float> probabilities;  // (labels)
    int32_t label = 0;                 // argmax for > 2 labels; P(labels[1]) >= threshold for 2
    // Per token: its contribution to logit(labels[1]) - logit(labels[0]) (binary models).
    std::vector<float> token_weights;
  };
  Result<Prediction> predict(const TokenizedText& text) const;

  // Fine-tunes the whole model on new examples (unknown words stay unknown), epoch by epoch.
  Status fine_tune(const std::vector<ReviewExample>& examples, int64_t epochs, double learning_rate,
                   const ReviewProgressFn& progress = nullptr);

  const TextVocab& vocab() const { return vocab_; }

 private:
  ReviewModel() = default;
  Status train_epochs(const std::vector<ReviewExample>& examples, int64_t epochs, double learning_rate,
                      double weight_decay, uint32_t seed, const ReviewProgressFn& progress);
  // The features one text pools: ids (max_features at most; unique unless "mean"), their counts
  // in the whole text and their source tokens.
  void select(const TokenizedText& t, std::vector<int32_t>* ids, std::vector<int32_t>* counts, std::vector<int32_t>* token_of) const;
  // The bag of one text: feature ids, their weights and source tokens (max_features at most).
  void bag(const TokenizedText& t, std::vector<int32_t>* ids, std::vector<float>* weights, std::vector<int32_t>* token_of) const;
  TextVocab vocab_;
  std::vector<std::string> labels_;
  int64_t dim_ = 0, max_features_ = 512;
  double threshold_ = 0.5;
  std::vector<float> table_;  // (vocab size, dim)
  std::vector<float> w_, b_;  // (labels, dim), (labels)
  std::string weighting_ = "mean";
  std::vector<float> fweights_;  // (vocab size) NB log-count ratios or idf; empty for "mean"
  Context* ctx_ = nullptr;
};

// ---- Review analysis: one request -> one result -----------------------------------------------

// Finds the aspects (taste, price, delivery, ...) a clause talks about. An interface so that a
// learned detector can replace the keyword one.
class AspectDetector {
 public:
  virtual ~AspectDetector() = default;
  virtual const std::vector<std::string>& names() const = 0;
  // Appends the indices (into names()) of the aspects `clause` mentions, each once, ascending.
  virtual void detect(const TokenizedText& clause, std::vector<int32_t>* aspects) const = 0;
};

// Aspects signalled by keywords, matched on whole (lower-cased) tokens, or on token prefixes for
// keywords ending in '*' ("flavor*" matches "flavorful"). O(token length) per token.
class KeywordAspects : public AspectDetector {
 public:
  struct Aspect {
    std::string name;
    std::vector<std::string> keywords;
  };
  // Refuses empty names or keyword lists, duplicate names, empty keywords, and more than 256
  // aspects or 10,000 keywords in all.
  static Result<std::unique_ptr<KeywordAspects>> create(const std::vector<Aspect>& aspects);
  // The same from JSON: {"name": ["keyword", ...], ...}.
  static Result<std::unique_ptr<KeywordAspects>> from_json(const JsonRef& j);
  const std::vector<std::string>& names() const override { return names_; }
  void detect(const TokenizedText& clause, std::vector<int32_t>* aspects) const override;

 private:
  KeywordAspects() = default;
  std::vector<std::string> names_;
  std::unordered_map<std::string, std::vector<int32_t>> exact_, prefix_;  // keyword -> aspects
  size_t longest_prefix_ = 0;  // bytes
};

struct ReviewRequest {
  std::string_view text;          // UTF-8 (invalid bytes are replaced and counted)
  size_t max_bytes = 20000;       // longer texts are cut at a character boundary (truncated = true)
  bool aspects = true;            // run the detector and score the clauses that mention an aspect
  int32_t top_words = 5;          // how many of the words behind the decision to return
  // P(labels[1]) of a clause at or above which the aspect it mentions reads positive, in [0, 1];
  // < 0: the model's threshold. It may sit below a review's: a pleased remark about one aspect
  // ("pretty good taste") need not come from a top-rated review (the facade uses 0.1 with the
  // shipped model: the best of 0.02-0.6 on bench/aspects/dev).
  double aspect_threshold = -1;
};

struct ReviewAnalysis {
  int32_t label = 0;                 // index into the model's labels
  std::vector<float> probabilities;  // (labels)
  struct Word {
    std::string text;  // as read ("not good" for a negated "good")
    float weight = 0;  // contribution to logit(labels[1]) - logit(labels[0])
  };
  std::vector<Word> words;           // the top_words tokens by |weight|, strongest first
  struct Aspect {
    int32_t aspect = 0;    // index into the detector's names()
    float score = 0;       // P(labels[1]) of the clause
    bool positive = false; // score >= the model's threshold
    std::string snippet;   // the clause, trimmed
  };
  // One entry per aspect mentioned: the clause that speaks most strongly either way (the first on
  // ties), in order of first mention.
  std::vector<Aspect> aspects;
  int64_t tokens = 0;
  int64_t invalid_bytes = 0;
  bool truncated = false;
};

// Sentiment, aspects and the words behind the decision for one review, in time linear in its
// length. `aspects` may be null (no aspects). Neither pointer is kept.
Result<ReviewAnalysis> analyze_review(const ReviewModel& model, const AspectDetector* aspects, const ReviewRequest& request);

// What many reviews say, built one analysis at a time (so that a caller can stream reviews and
// report progress in between): the sentiment split and, per aspect, how often it is mentioned,
// praised and criticized, with the clause that praises it most and the one that criticizes it most.
class ReviewSummary {
 public:
  explicit ReviewSummary(std::vector<std::string> aspect_names);
  void add(const ReviewAnalysis& analysis);

  struct Aspect {
    std::string name;
    int64_t mentions = 0, positive = 0, negative = 0;
    std::string praise, complaint;     // snippets; empty when there is none
    bool has_praise = false, has_complaint = false;
    float best = 0, worst = 0;         // their scores
  };
  int64_t count() const { return count_; }
  int64_t positive() const { return positive_; }
  int64_t truncated() const { return truncated_; }
  // Every aspect, in the detector's order (mentions may be 0).
  const std::vector<Aspect>& aspects() const { return aspects_; }
  // Up to k aspect names with praise (criticism), most praised (criticized) first, ties by name.
  std::vector<std::string> praised(size_t k = 3) const;
  std::vector<std::string> criticized(size_t k = 3) const;
  // {count, positive, negative, positiveShare, truncated, aspects: [{aspect, mentions, positive,
  // negative, praise, complaint}] (mentioned ones), praised, criticized}: what the facade's
  // summarize() and vitrine-review summarize return.
  Json to_json() const;

 private:
  int64_t count_ = 0, positive_ = 0, truncated_ = 0;
  std::vector<Aspect> aspects_;
};

}  // namespace vitrine
