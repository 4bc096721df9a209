// Review text (text.h): tokenizer, vocabulary with BPE subwords, bag-of-features classifier.
#include "vitrine/text.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <queue>
#include <random>
#include <set>

#include "../core/utf8.h"
#include "vitrine/graph.h"
#include "vitrine/train.h"

namespace vitrine {
namespace {

uint32_t lower(uint32_t c) {
  if (c >= 'A' && c <= 'Z') return c + 32;
  if ((c >= 0xC0 && c <= 0xDE && c != 0xD7)) return c + 32;
  if (c >= 0x100 && c <= 0x17F && (c % 2 == 0) && c != 0x130 && c != 0x138) return c + 1;  // Latin Extended-A pairs
  if (c >= 0x391 && c <= 0x3A9 && c != 0x3A2) return c + 32;                             // Greek
  if (c >= 0x410 && c <= 0x42F) return c + 32;                                            // Cyrillic
  if (c >= 0x400 && c <= 0x40F) return c + 80;
  return c;
}

bool is_word_char(uint32_t c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (c >= 0xDF && c <= 0x24F && c != 0xF7) ||
         (c >= 0x370 && c <= 0x3FF) || (c >= 0x400 && c <= 0x4FF);
}
bool is_cjk(uint32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x3040 && c <= 0x30FF) ||
         (c >= 0xAC00 && c <= 0xD7AF) || (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x20000 && c <= 0x2FFFF);
}
bool is_emoji(uint32_t c) {
  return (c >= 0x1F300 && c <= 0x1FAFF && !(c >= 0x1F3FB && c <= 0x1F3FF)) || (c >= 0x2600 && c <= 0x27BF) ||
         (c >= 0x1F000 && c <= 0x1F2FF) || c == 0x2B50 || c == 0x2764;
}
bool is_emoji_modifier(uint32_t c) { return c == 0xFE0F || c == 0xFE0E || c == 0x200D || (c >= 0x1F3FB && c <= 0x1F3FF); }
bool ends_clause(uint32_t c) {
  return c == '.' || c == ',' || c == ';' || c == ':' || c == '!' || c == '?' || c == 0x3002 || c == 0xFF0C ||
         c == 0xFF01 || c == 0xFF1F || c == 0x3001 || c == '\n';
}

bool is_negation(const std::string& w) {
  static const std::set<std::string> kWords = {"not", "no", "never", "none", "nobody", "nothing", "neither", "nor",
                                               "cannot", "without", "hardly", "barely", "isnt", "dont", "doesnt",
                                               "didnt", "wasnt", "wont", "cant", "couldnt", "wouldnt", "shouldnt", "arent"};
  if (kWords.count(w)) return true;
  return w.size() > 3 && w.compare(w.size() - 3, 3, "n't") == 0;
}

// Words that turn a sentence from one judgement to another ("great taste but arrived crushed").
bool is_contrast(const std::string& w) {
  static const std::set<std::string> kWords = {"but", "however", "although", "though", "yet", "whereas", "except"};
  return kWords.count(w) != 0;
}

uint64_t fnv1a(const std::string& a, const std::string& b) {
  uint64_t h = 1469598103934665603ull;
  for (char c : a) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  h = (h ^ 0x1F) * 1099511628211ull;
  for (char c : b) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  return h;
}

// The UTF-8 characters of a word.
std::vector<std::string> chars_of(const std::string& w) {
  std::vector<std::string> out;
  for (size_t i = 0; i < w.size();) {
    uint32_t cp;
    size_t n = decode_utf8(w, i, &cp);
    if (n == 0) n = 1;
    out.push_back(w.substr(i, n));
    i += n;
  }
  return out;
}

constexpr int64_t kMaxReviewFeatures = int64_t{1} << 24;  // ids reach the embedding as floats
constexpr int64_t kMaxReviewTable = int64_t{1} << 27;     // values in the embedding table (512 MiB f32)
constexpr int64_t kMaxReviewBag = int64_t{1} << 16;       // max_features

// Character n-gram settings: at most 2^24 buckets, lengths 1 <= min <= max <= 8.
Status check_char_options(int64_t buckets, int64_t min, int64_t max, bool loading) {
  if (buckets >= 0 && buckets <= kMaxReviewFeatures && min >= 1 && min <= max && max <= 8) return Status::Ok();
  const std::string what = "character n-grams need 0 <= buckets <= 2^24 and 1 <= min <= max <= 8";
  return loading ? Status::DataLoss("vocabulary: " + what) : Status::InvalidArgument(what);
}

std::string feature_key(const Token& t) { return t.kind == TokenKind::kWord && t.negated ? "not_" + t.text : t.text; }

}  // namespace

TokenizedText tokenize(std::string_view in, size_t max_bytes) {
  TokenizedText out;
  if (in.size() > max_bytes) {
    size_t cut = max_bytes;
    while (cut > 0 && (static_cast<unsigned char>(in[cut]) & 0xC0) == 0x80) --cut;  // a character boundary
    in = in.substr(0, cut);
    out.truncated = true;
  }
  // 1. Clean: replace invalid bytes, drop markup (<br />, <a href…>), keep everything else.
  std::string& s = out.text;
  s.reserve(in.size());
  for (size_t i = 0; i < in.size();) {
    if (in[i] == '<') {
      // A tag is at most 200 bytes: look no further (an unclosed '<' must not rescan the text).
      const size_t close = in.substr(i, 200).find('>');
      if (close != std::string_view::npos && i + 1 < in.size() &&
          (std::isalpha(static_cast<unsigned char>(in[i + 1])) || in[i + 1] == '/')) {
        s.push_back(' ');
        i += close + 1;
        continue;
      }
    }
    uint32_t cp;
    const size_t n = decode_utf8(in, i, &cp);
    if (n == 0) {
      append_utf8(0xFFFD, &s);
      ++out.invalid_bytes;
      ++i;
      continue;
    }
    s.append(in.data() + i, n);
    i += n;
  }
  // 2. Tokens and clauses.
  int32_t clause = 0;
  size_t clause_start = 0;
  bool negating = false;
  auto end_clause = [&](size_t at) {
    if (at > clause_start) out.clauses.emplace_back(clause_start, at);
    clause_start = at;
    ++clause;
    negating = false;
  };
  std::string word;
  size_t word_start = 0;
  auto flush_word = [&](size_t at) {
    if (word.empty()) return;
    // Trim apostrophes at the edges ("'tis" / "dogs'").
    while (!word.empty() && word.back() == '\'') word.pop_back();
    size_t lead = 0;
    while (lead < word.size() && word[lead] == '\'') ++lead;
    word = word.substr(lead);
    if (!word.empty()) {
      Token t;
      t.text = word;
      t.kind = TokenKind::kWord;
      t.negated = negating;
      t.clause = clause;
      t.begin = word_start;
      t.end = at;
      out.tokens.push_back(std::move(t));
      if (is_negation(word)) negating = true;
    }
    word.clear();
  };
  for (size_t i = 0; i < s.size();) {
    uint32_t cp;
    size_t n = decode_utf8(s, i, &cp);
    if (n == 0) n = 1, cp = 0xFFFD;
    const uint32_t c = lower(cp);
    if (is_word_char(c) || (c == '\'' && !word.empty()) || (c == 0x2019 && !word.empty())) {
      if (word.empty()) word_start = i;
      if (c == 0x2019) word.push_back('\'');
      else append_utf8(c, &word);
      i += n;
      continue;
    }
    flush_word(i);
    if (is_cjk(c) || is_emoji(c)) {
      Token t;
      append_utf8(c, &t.text);
      t.kind = is_cjk(c) ? TokenKind::kCjk : TokenKind::kEmoji;
      t.clause = clause;
      t.begin = i;
      t.end = i + n;
      out.tokens.push_back(std::move(t));
    } else if (c == '!' || c == '?' || c == 0xFF01 || c == 0xFF1F) {
      Token t;
      t.text = (c == '!' || c == 0xFF01) ? "!" : "?";
      t.kind = TokenKind::kPunct;
      t.clause = clause;
      t.begin = i;
      t.end = i + n;
      out.tokens.push_back(std::move(t));
    } else if (is_emoji_modifier(c)) {
      // part of the previous emoji
    }
    if (ends_clause(c)) end_clause(i + n);
    i += n;
  }
  flush_word(s.size());
  if (s.size() > clause_start) out.clauses.emplace_back(clause_start, s.size());
  return out;
}

TokenizedText clause_text(const TokenizedText& t, size_t index) {
  TokenizedText c;
  if (index >= t.clauses.size()) return c;
  const auto [b, e] = t.clauses[index];
  c.text = t.text.substr(b, e - b);
  c.clauses.emplace_back(0, c.text.size());
  // Tokens are in text order: find the clause's first one by bisection (O(log n + clause), so all
  // clauses of a text together cost O(n log n), not O(clauses x tokens)).
  auto first = std::lower_bound(t.tokens.begin(), t.tokens.end(), b, [](const Token& k, size_t at) { return k.begin < at; });
  for (auto it = first; it != t.tokens.end() && it->begin < e; ++it) {
    Token x = *it;
    x.begin -= b;
    x.end -= b;
    x.clause = 0;
    c.tokens.push_back(std::move(x));
  }
  return c;
}

// ---- TextVocab --------------------------------------------------------------------------------

TextVocab TextVocab::learn(const std::vector<TokenizedText>& corpus, const Options& o) {
  std::map<std::string, int64_t> counts;        // feature keys (words, not_words, CJK, emoji, punct)
  std::map<std::string, int64_t> word_counts;   // plain words, for BPE
  for (const TokenizedText& t : corpus) {
    for (const Token& tok : t.tokens) {
      ++counts[feature_key(tok)];
      if (tok.kind == TokenKind::kWord) ++word_counts[tok.text];
    }
  }
  TextVocab v;
  v.buckets_ = o.bigram_buckets;
  v.char_buckets_ = o.char_buckets;
  v.char_min_ = o.char_min;
  v.char_max_ = o.char_max;
  // BPE over all words (weighted by frequency): the most frequent adjacent pair merges first
  // (ties: the lexicographically smaller pair), o.bpe_merges times. Pair counts are kept up to
  // date incrementally: a merge only revisits the words that contain the merged pair.
  std::vector<std::pair<std::vector<std::string>, int64_t>> words;
  for (const auto& [w, c] : word_counts) words.emplace_back(chars_of(w), c);
  std::map<std::pair<std::string, std::string>, int64_t> pairs;
  std::map<std::pair<std::string, std::string>, std::set<size_t>> where;
  auto count_word = [&](size_t wi, int64_t sign) {
    const auto& [syms, c] = words[wi];
    for (size_t i = 0; i + 1 < syms.size(); ++i) {
      const auto key = std::make_pair(syms[i], syms[i + 1]);
      pairs[key] += sign * c;
      if (sign > 0) where[key].insert(wi);
    }
  };
  for (size_t wi = 0; wi < words.size(); ++wi) count_word(wi, +1);
  for (int64_t m = 0; m < o.bpe_merges; ++m) {
    auto best = pairs.end();
    for (auto it = pairs.begin(); it != pairs.end(); ++it) {
      if (best == pairs.end() || it->second > best->second) best = it;
    }
    if (best == pairs.end() || best->second < 2) break;
    const auto [a, b] = best->first;
    v.merge_rank_[a + " " + b] = static_cast<int32_t>(v.merges_.size());
    v.merges_.emplace_back(a, b);
    const std::set<size_t> affected = where[best->first];
    for (size_t wi : affected) {
      count_word(wi, -1);
      auto& syms = words[wi].first;
      std::vector<std::string> next;
      for (size_t i = 0; i < syms.size(); ++i) {
        if (i + 1 < syms.size() && syms[i] == a && syms[i + 1] == b) {
          next.push_back(a + b);
          ++i;
        } else {
          next.push_back(syms[i]);
        }
      }
      syms = std::move(next);
      count_word(wi, +1);
    }
    for (auto it = pairs.begin(); it != pairs.end();) it = it->second <= 0 ? pairs.erase(it) : std::next(it);
  }
  // Entries: frequent feature keys (most frequent first, ties by name), then the pieces of rare words.
  std::vector<std::pair<std::string, int64_t>> frequent;
  for (const auto& [k, c] : counts) {
    if (c >= o.min_count) frequent.emplace_back(k, c);
  }
  std::stable_sort(frequent.begin(), frequent.end(), [](const auto& x, const auto& y) { return x.second > y.second; });
  if (static_cast<int64_t>(frequent.size()) > o.max_words) frequent.resize(static_cast<size_t>(o.max_words));
  for (const auto& [k, c] : frequent) {
    v.index_[k] = static_cast<int32_t>(v.entries_.size());
    v.entries_.push_back(k);
  }
  std::map<std::string, int64_t> piece_counts;
  for (const auto& [w, c] : word_counts) {
    for (const std::string& p : v.pieces(w)) piece_counts["##" + p] += c;
  }
  for (const auto& [p, c] : piece_counts) {
    if (c >= o.min_count && !v.index_.count(p)) {
      v.index_[p] = static_cast<int32_t>(v.entries_.size());
      v.entries_.push_back(p);
    }
  }
  return v;
}

std::vector<std::string> TextVocab::pieces(const std::string& word) const {
  constexpr int32_t kBpeWindow = TextVocab::kBpeWindow;
  // Lowest-rank merge first, leftmost among equal ranks (as the merges were learned), in
  // O(n log w) for an n-character word and windows of w characters: symbols are byte spans of
  // `word` in a linked list, and candidate merges wait in a min-heap; a candidate whose spans
  // changed since it was pushed is stale and skipped.
  struct Symbol {
    size_t begin, end;  // byte span in `word`; begin == npos once merged into its left neighbour
    int32_t prev, next; // neighbours (-1: none)
  };
  std::vector<Symbol> syms;
  for (size_t i = 0; i < word.size();) {
    uint32_t cp;
    size_t n = decode_utf8(word, i, &cp);
    if (n == 0) n = 1;
    const int32_t at = static_cast<int32_t>(syms.size());
    // Windows of kBpeWindow characters are merged on their own (no pair spans two windows).
    const bool starts_window = at % kBpeWindow == 0;
    syms.push_back({i, i + n, starts_window ? -1 : at - 1, at + 1});
    if (starts_window && at > 0) syms[static_cast<size_t>(at) - 1].next = -1;
    i += n;
  }
  if (syms.empty()) return {};
  syms.back().next = -1;
  struct Candidate {
    int32_t rank;
    size_t begin, left_end, right_end;  // the pair's spans when it was pushed
    int32_t left;
    bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : begin > o.begin; }
  };
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<Candidate>> heap;
  std::string key;
  auto push = [&](int32_t left) {
    if (left < 0 || syms[static_cast<size_t>(left)].next < 0) return;
    const Symbol& a = syms[static_cast<size_t>(left)];
    const Symbol& b = syms[static_cast<size_t>(a.next)];
    key.assign(word, a.begin, a.end - a.begin);
    key.push_back(' ');
    key.append(word, b.begin, b.end - b.begin);
    auto it = merge_rank_.find(key);
    if (it != merge_rank_.end()) heap.push({it->second, a.begin, a.end, b.end, left});
  };
  const int32_t count = static_cast<int32_t>(syms.size());
  for (int32_t window = 0; window < count; window += kBpeWindow) {  // one small heap per window
    for (int32_t i = window; i + 1 < std::min(count, window + kBpeWindow); ++i) push(i);
    while (!heap.empty()) {
      const Candidate c = heap.top();
      heap.pop();
      Symbol& a = syms[static_cast<size_t>(c.left)];
      if (a.begin == std::string::npos || a.end != c.left_end || a.next < 0) continue;
      Symbol& b = syms[static_cast<size_t>(a.next)];
      if (b.end != c.right_end) continue;
      a.end = b.end;
      a.next = b.next;
      if (b.next >= 0) syms[static_cast<size_t>(b.next)].prev = c.left;
      b.begin = std::string::npos;
      push(a.prev);
      push(c.left);
    }
  }
  std::vector<std::string> out;
  for (const Symbol& x : syms) {
    if (x.begin != std::string::npos) out.emplace_back(word, x.begin, x.end - x.begin);
  }
  return out;
}

void TextVocab::features(const TokenizedText& t, std::vector<int32_t>* ids, std::vector<int32_t>* token_of) const {
  ids->clear();
  if (token_of) token_of->clear();
  std::string prev;
  int32_t prev_clause = -1;
  // Character n-grams run over `stream` = " tok tok ... "; `starts` holds each character's byte
  // offset (plus a sentinel), `owner` the token it belongs to.
  std::string stream;
  std::vector<uint32_t> starts;
  std::vector<int32_t> owner;
  auto add_char = [&](std::string_view ch, int32_t token) {
    starts.push_back(static_cast<uint32_t>(stream.size()));
    stream.append(ch);
    owner.push_back(token);
  };
  if (char_buckets_ > 0 && !t.tokens.empty()) add_char(" ", 0);
  for (size_t i = 0; i < t.tokens.size(); ++i) {
    const Token& tok = t.tokens[i];
    const std::string key = feature_key(tok);
    auto it = index_.find(key);
    if (it != index_.end()) {
      ids->push_back(it->second);
      if (token_of) token_of->push_back(static_cast<int32_t>(i));
    } else if (tok.kind == TokenKind::kWord) {
      for (const std::string& p : pieces(tok.text)) {
        auto pit = index_.find("##" + p);
        if (pit == index_.end()) continue;
        ids->push_back(pit->second);
        if (token_of) token_of->push_back(static_cast<int32_t>(i));
      }
    }
    if (buckets_ > 0 && prev_clause == tok.clause) {
      ids->push_back(static_cast<int32_t>(static_cast<int64_t>(entries_.size()) +
                                          static_cast<int64_t>(fnv1a(prev, key) % static_cast<uint64_t>(buckets_))));
      if (token_of) token_of->push_back(static_cast<int32_t>(i));
    }
    prev = key;
    prev_clause = tok.clause;
    if (char_buckets_ > 0) {
      for (size_t at = 0; at < tok.text.size();) {
        uint32_t cp;
        size_t n = decode_utf8(tok.text, at, &cp);
        if (n == 0) n = 1;
        add_char(std::string_view(tok.text).substr(at, n), static_cast<int32_t>(i));
        at += n;
      }
      add_char(" ", static_cast<int32_t>(i));
    }
  }
  if (starts.empty()) return;
  // After the words: for each start, one FNV-1a pass over its longest n-gram, the length mixed
  // in as each n-gram completes; an n-gram counts for the token of its last character.
  const size_t chars = starts.size();
  starts.push_back(static_cast<uint32_t>(stream.size()));
  const int64_t base = static_cast<int64_t>(entries_.size()) + buckets_;
  for (size_t j = 0; j < chars; ++j) {
    uint64_t h = 1469598103934665603ull;
    for (int64_t n = 1; n <= char_max_ && j + static_cast<size_t>(n) <= chars; ++n) {
      const size_t last = j + static_cast<size_t>(n) - 1;
      for (uint32_t b = starts[last]; b < starts[last + 1]; ++b) h = (h ^ static_cast<unsigned char>(stream[b])) * 1099511628211ull;
      if (n < char_min_) continue;
      const uint64_t hn = (h ^ (static_cast<uint64_t>(n) << 56)) * 1099511628211ull;
      ids->push_back(static_cast<int32_t>(base + static_cast<int64_t>(hn % static_cast<uint64_t>(char_buckets_))));
      if (token_of) token_of->push_back(owner[last]);
    }
  }
}

Json TextVocab::to_json() const {
  Json::Array entries, merges;
  for (const std::string& e : entries_) entries.emplace_back(e);
  for (const auto& [a, b] : merges_) merges.emplace_back(a + " " + b);
  Json j = Json::object({{"entries", Json::array(std::move(entries))}, {"merges", Json::array(std::move(merges))},
                         {"bigram_buckets", buckets_}});
  if (char_buckets_ > 0) {  // older readers never see the key on models without character n-grams
    j.set("char_buckets", char_buckets_);
    j.set("char_min", char_min_);
    j.set("char_max", char_max_);
  }
  return j;
}

Result<TextVocab> TextVocab::from_json(const JsonRef& j) {
  TextVocab v;
  VITRINE_ASSIGN_OR_RETURN(const Json::Array* entries, j["entries"].as_array());
  for (size_t i = 0; i < entries->size(); ++i) {
    VITRINE_ASSIGN_OR_RETURN(std::string e, j["entries"][i].as_string());
    if (v.index_.count(e)) return Status::DataLoss("vocabulary: duplicate entry '" + e + "'");
    v.index_[e] = static_cast<int32_t>(v.entries_.size());
    v.entries_.push_back(std::move(e));
  }
  VITRINE_ASSIGN_OR_RETURN(const Json::Array* merges, j["merges"].as_array());
  for (size_t i = 0; i < merges->size(); ++i) {
    VITRINE_ASSIGN_OR_RETURN(std::string m, j["merges"][i].as_string());
    const size_t sp = m.find(' ');
    if (sp == std::string::npos || sp == 0 || sp + 1 == m.size()) return Status::DataLoss("vocabulary: bad merge '" + m + "'");
    v.merge_rank_[m] = static_cast<int32_t>(v.merges_.size());
    v.merges_.emplace_back(m.substr(0, sp), m.substr(sp + 1));
  }
  VITRINE_ASSIGN_OR_RETURN(v.buckets_, j["bigram_buckets"].as_int());
  if (v.buckets_ < 0 || v.buckets_ > kMaxReviewFeatures) return Status::DataLoss("vocabulary: bad bigram_buckets");
  VITRINE_ASSIGN_OR_RETURN(v.char_buckets_, j["char_buckets"].int_or(0));
  VITRINE_ASSIGN_OR_RETURN(v.char_min_, j["char_min"].int_or(3));
  VITRINE_ASSIGN_OR_RETURN(v.char_max_, j["char_max"].int_or(6));
  VITRINE_RETURN_IF_ERROR(check_char_options(v.char_buckets_, v.char_min_, v.char_max_, true));
  if (v.size() > kMaxReviewFeatures) return Status::DataLoss("vocabulary: more than 2^24 features");
  return v;
}

// ---- ReviewModel ------------------------------------------------------------------------------

Status ReviewModel::set_threshold(double t) {
  if (!(t > 0 && t < 1)) return Status::InvalidArgument("threshold must be in (0, 1)");
  threshold_ = t;
  return Status::Ok();
}

void ReviewModel::select(const TokenizedText& t, std::vector<int32_t>* ids, std::vector<int32_t>* counts,
                         std::vector<int32_t>* token_of) const {
  std::vector<int32_t> raw, from;
  vocab_.features(t, &raw, &from);
  ids->clear();
  counts->clear();
  if (token_of) token_of->clear();
  if (weighting_ == "mean") {
    const size_t n = std::min(raw.size(), static_cast<size_t>(max_features_));
    ids->assign(raw.begin(), raw.begin() + static_cast<std::ptrdiff_t>(n));
    counts->assign(n, 1);
    if (token_of) token_of->assign(from.begin(), from.begin() + static_cast<std::ptrdiff_t>(n));
    return;
  }
  // Unique features in order of first occurrence (the first max_features of them), with their
  // counts over the whole text: an open-addressing table of O(max_features) slots (a review with
  // character n-grams has thousands of features; a map or a sort cost more than the prediction).
  const size_t keep = std::min(raw.size(), static_cast<size_t>(max_features_));
  size_t cap = 16;
  while (cap < 2 * keep) cap *= 2;
  std::vector<int32_t> slot_id(cap, -1), slot_at(cap, 0);  // feature id, its index in `ids`
  for (size_t i = 0; i < raw.size(); ++i) {
    const uint32_t id = static_cast<uint32_t>(raw[i]);
    size_t at = (id * 2654435761u) & (cap - 1);
    while (slot_id[at] >= 0 && slot_id[at] != raw[i]) at = (at + 1) & (cap - 1);
    if (slot_id[at] >= 0) {
      ++(*counts)[static_cast<size_t>(slot_at[at])];
    } else if (ids->size() < keep) {
      slot_id[at] = raw[i];
      slot_at[at] = static_cast<int32_t>(ids->size());
      ids->push_back(raw[i]);
      counts->push_back(1);
      if (token_of) token_of->push_back(from[i]);
    }
  }
}

void ReviewModel::bag(const TokenizedText& t, std::vector<int32_t>* ids, std::vector<float>* weights,
                      std::vector<int32_t>* token_of) const {
  std::vector<int32_t> counts;
  select(t, ids, &counts, token_of);
  weights->clear();
  if (weighting_ == "mean") {
    weights->assign(ids->size(), ids->empty() ? 0.0f : 1.0f / static_cast<float>(ids->size()));
    return;
  }
  if (weighting_ == "nb") {
    const int64_t cb = vocab_.char_base();
    const size_t chars = static_cast<size_t>(std::count_if(ids->begin(), ids->end(), [cb](int32_t id) { return id >= cb; }));
    const size_t words = ids->size() - chars;
    const float inv_w = words ? 1.0f / static_cast<float>(words) : 0.0f, inv_c = chars ? 1.0f / static_cast<float>(chars) : 0.0f;
    for (int32_t id : *ids) weights->push_back(fweights_[static_cast<size_t>(id)] * (id >= cb ? inv_c : inv_w));
    return;
  }
  double norm = 0;  // tfidf
  for (size_t f = 0; f < ids->size(); ++f) {
    const int32_t id = (*ids)[f];
    const double w = (1.0 + std::log(static_cast<double>(counts[f]))) * fweights_[static_cast<size_t>(id)];
    weights->push_back(static_cast<float>(w));
    norm += w * w;
  }
  const float inv = norm > 0 ? static_cast<float>(1.0 / std::sqrt(norm)) : 0.0f;
  for (float& w : *weights) w *= inv;
}

Status ReviewModel::train_epochs(const std::vector<ReviewExample>& examples, int64_t epochs, double lr, double wd,
                                 uint32_t seed, const ReviewProgressFn& progress) {
  const int64_t k = static_cast<int64_t>(labels_.size()), v = vocab_.size();
  if (examples.empty()) return Status::InvalidArgument("no training examples");
  for (const ReviewExample& e : examples) {
    if (e.label < 0 || e.label >= k) return Status::InvalidArgument("label " + std::to_string(e.label) + " out of range");
  }
  std::vector<std::vector<int32_t>> feats(examples.size());
  std::vector<std::vector<float>> fw(examples.size());
  for (size_t i = 0; i < examples.size(); ++i) bag(tokenize(examples[i].text), &feats[i], &fw[i], nullptr);
  const int64_t batch = std::min<int64_t>(32, static_cast<int64_t>(examples.size()));
  auto g = std::make_shared<Graph>();
  VITRINE_ASSIGN_OR_RETURN(int ids, g->add_input("ids", Shape{batch, max_features_}));
  VITRINE_ASSIGN_OR_RETURN(int bag_weights, g->add_input("weights", Shape{batch, max_features_}));
  VITRINE_ASSIGN_OR_RETURN(Tensor tt, Tensor::from_values(Shape{v, dim_}, table_.data(), table_.size()));
  VITRINE_ASSIGN_OR_RETURN(Tensor wt, Tensor::from_values(Shape{k, dim_}, w_.data(), w_.size()));
  VITRINE_ASSIGN_OR_RETURN(Tensor bt, Tensor::from_values(Shape{k}, b_.data(), b_.size()));
  VITRINE_ASSIGN_OR_RETURN(int tv, g->add_constant("table", std::move(tt)));
  VITRINE_ASSIGN_OR_RETURN(int wv, g->add_constant("out.w", std::move(wt)));
  VITRINE_ASSIGN_OR_RETURN(int bv, g->add_constant("out.b", std::move(bt)));
  OpAttrs sum;
  sum.strings["mode"] = "sum";
  VITRINE_ASSIGN_OR_RETURN(int h, g->add(OpType::kEmbeddingBag, "bag", {ids, tv, bag_weights}, sum));
  VITRINE_ASSIGN_OR_RETURN(int logits, g->add(OpType::kDense, "out", {h, wv, bv}));
  VITRINE_RETURN_IF_ERROR(g->add_output(logits, "logits"));
  TrainerOptions to;
  to.loss.type = LossType::kSoftmaxCrossEntropy;
  to.optimizer.type = "adam";
  to.optimizer.learning_rate = lr;
  to.optimizer.weight_decay = wd;
  VITRINE_ASSIGN_OR_RETURN(std::unique_ptr<Trainer> trainer, Trainer::create(g, ctx_, to));
  std::mt19937_64 rng(seed);
  std::vector<size_t> order(examples.size());
  std::iota(order.begin(), order.end(), 0);
  const int64_t steps = static_cast<int64_t>(examples.size()) / batch;
  for (int64_t epoch = 1; epoch <= epochs; ++epoch) {
    std::shuffle(order.begin(), order.end(), rng);
    double sum = 0;
    for (int64_t s = 0; s < steps; ++s) {
      VITRINE_ASSIGN_OR_RETURN(Tensor x, Tensor::zeros(Shape{batch, max_features_}));
      VITRINE_ASSIGN_OR_RETURN(Tensor xw, Tensor::zeros(Shape{batch, max_features_}));
      VITRINE_ASSIGN_OR_RETURN(Tensor y, Tensor::zeros(Shape{batch}));
      std::fill(x.mutable_data(), x.mutable_data() + x.num_elements(), -1.0f);
      for (int64_t r = 0; r < batch; ++r) {
        const size_t e = order[static_cast<size_t>(s * batch + r)];
        for (size_t j = 0; j < feats[e].size(); ++j) {
          x.mutable_data()[r * max_features_ + static_cast<int64_t>(j)] = static_cast<float>(feats[e][j]);
          xw.mutable_data()[r * max_features_ + static_cast<int64_t>(j)] = fw[e][j];
        }
        y.mutable_data()[r] = static_cast<float>(examples[e].label);
      }
      VITRINE_ASSIGN_OR_RETURN(double loss, trainer->step({x, xw}, y));
      if (!std::isfinite(loss)) return Status::FailedPrecondition("review training diverged: lower the learning rate");
      sum += loss;
    }
    if (progress && !progress(epoch, epochs, sum / static_cast<double>(std::max<int64_t>(1, steps)))) {
      return Status::Cancelled("review training cancelled");
    }
  }
  const Tensor& t2 = g->value(tv).constant;
  const Tensor& w2 = g->value(wv).constant;
  const Tensor& b2 = g->value(bv).constant;
  table_.assign(t2.data(), t2.data() + t2.num_elements());
  w_.assign(w2.data(), w2.data() + w2.num_elements());
  b_.assign(b2.data(), b2.data() + b2.num_elements());
  return Status::Ok();
}

Result<std::unique_ptr<ReviewModel>> ReviewModel::train(const std::vector<ReviewExample>& examples,
                                                        const std::vector<std::string>& labels, const ReviewTrainOptions& o,
                                                        Context* ctx, const ReviewProgressFn& progress) {
  if (labels.size() < 2) return Status::InvalidArgument("a review model needs at least two labels");
  if (o.dim < 1 || o.epochs < 1 || o.max_features < 1 || o.max_features > kMaxReviewBag || !(o.learning_rate > 0)) {
    return Status::InvalidArgument("bad review training options (dim, epochs >= 1; max_features in [1, 65536]; learning rate > 0)");
  }
  if (ctx == nullptr) return Status::InvalidArgument("no context");
  VITRINE_RETURN_IF_ERROR(check_char_options(o.vocab.char_buckets, o.vocab.char_min, o.vocab.char_max, false));
  if (o.vocab.bigram_buckets < 0 || o.vocab.bigram_buckets > kMaxReviewFeatures || o.vocab.max_words < 0 || o.vocab.max_words > kMaxReviewFeatures) {
    return Status::InvalidArgument("bigram buckets and max words must be in [0, 2^24]");
  }
  std::vector<TokenizedText> corpus;
  corpus.reserve(examples.size());
  for (const ReviewExample& e : examples) corpus.push_back(tokenize(e.text));
  std::unique_ptr<ReviewModel> m(new ReviewModel());
  m->vocab_ = TextVocab::learn(corpus, o.vocab);
  m->labels_ = labels;
  m->dim_ = o.dim;
  m->max_features_ = o.max_features;
  m->ctx_ = ctx;
  if (o.weighting != "mean" && o.weighting != "nb" && o.weighting != "tfidf") {
    return Status::InvalidArgument("weighting must be mean, nb or tfidf, got '" + o.weighting + "'");
  }
  m->weighting_ = o.weighting;
  if (o.weighting == "nb" && labels.size() != 2) return Status::InvalidArgument("NB weighting needs exactly two labels");
  // Feature ids reach the embedding as floats (exact up to 2^24), and the table must fit memory.
  if (m->vocab_.size() > kMaxReviewFeatures) {
    return Status::InvalidArgument("the vocabulary has " + std::to_string(m->vocab_.size()) + " features; the limit is 2^24 (fewer buckets)");
  }
  if (o.dim > kMaxReviewTable / std::max<int64_t>(1, m->vocab_.size())) {
    return Status::ResourceExhausted("a review table of " + std::to_string(m->vocab_.size()) + " x " + std::to_string(o.dim) +
                                     " values is too large (limit 2^27: fewer buckets or a smaller dim)");
  }
  std::mt19937_64 rng(o.seed);
  std::uniform_real_distribution<float> u(-1.0f / static_cast<float>(o.dim), 1.0f / static_cast<float>(o.dim));
  const size_t v = static_cast<size_t>(m->vocab_.size()), dim = static_cast<size_t>(o.dim);
  m->table_.resize(v * dim);
  for (float& x : m->table_) x = u(rng);
  m->w_.assign(labels.size() * dim, 0.0f);
  m->b_.assign(labels.size(), 0.0f);
  // Document frequencies (label 1 vs the rest) of the features the model pools (max_features
  // per review). A feature no training review pools (a hashed bucket nothing fell into) starts at
  // zero, not at random: it never gets a gradient, and a random row would add noise to every
  // review that later hashes into it.
  std::vector<double> pos(v, 0.0), neg(v, 0.0);
  {
    std::vector<int32_t> ids, counts;
    for (size_t i = 0; i < examples.size(); ++i) {
      m->select(corpus[i], &ids, &counts, nullptr);
      if (o.weighting == "mean") {  // the other poolings select each feature once already
        std::sort(ids.begin(), ids.end());
        ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
      }
      for (int32_t id : ids) (examples[i].label == 1 ? pos : neg)[static_cast<size_t>(id)] += 1;
    }
  }
  for (size_t f = 0; f < v; ++f) {
    if (pos[f] + neg[f] == 0) std::fill_n(m->table_.begin() + static_cast<std::ptrdiff_t>(f * dim), dim, 0.0f);
  }
  if (o.weighting != "mean") {
    m->fweights_.resize(v);
    if (o.weighting == "nb") {
      const double a = o.nb_alpha;
      const double sp = std::accumulate(pos.begin(), pos.end(), 0.0) + a * static_cast<double>(v);
      const double sn = std::accumulate(neg.begin(), neg.end(), 0.0) + a * static_cast<double>(v);
      for (size_t f = 0; f < v; ++f) m->fweights_[f] = static_cast<float>(std::log(((pos[f] + a) / sp) / ((neg[f] + a) / sn)));
    } else {
      const double n = static_cast<double>(examples.size());
      for (size_t f = 0; f < v; ++f) m->fweights_[f] = static_cast<float>(std::log((1.0 + n) / (1.0 + pos[f] + neg[f])) + 1.0);
    }
  }
  VITRINE_RETURN_IF_ERROR(m->train_epochs(examples, o.epochs, o.learning_rate, o.weight_decay, o.seed, progress));
  return m;
}

Status ReviewModel::fine_tune(const std::vector<ReviewExample>& examples, int64_t epochs, double lr, const ReviewProgressFn& progress) {
  if (epochs < 1 || !(lr > 0)) return Status::InvalidArgument("fine-tuning needs epochs >= 1 and a positive learning rate");
  // Train a copy so that a cancelled or failed run leaves the model as it was.
  ReviewModel copy = *this;
  VITRINE_RETURN_IF_ERROR(copy.train_epochs(examples, epochs, lr, 0.0, 20261128u, progress));
  *this = std::move(copy);
  return Status::Ok();
}

Result<ReviewModel::Prediction> ReviewModel::predict(const TokenizedText& text) const {
  std::vector<int32_t> ids, token_of;
  std::vector<float> weights;
  bag(text, &ids, &weights, &token_of);
  const int64_t k = static_cast<int64_t>(labels_.size());
  std::vector<float> h(static_cast<size_t>(dim_), 0.0f);
  for (size_t f = 0; f < ids.size(); ++f) {
    const float* row = table_.data() + static_cast<int64_t>(ids[f]) * dim_;
    for (int64_t d = 0; d < dim_; ++d) h[static_cast<size_t>(d)] += weights[f] * row[d];
  }
  Prediction p;
  std::vector<float> logits(static_cast<size_t>(k));
  for (int64_t c = 0; c < k; ++c) {
    float s = b_[static_cast<size_t>(c)];
    for (int64_t d = 0; d < dim_; ++d) s += w_[static_cast<size_t>(c * dim_ + d)] * h[static_cast<size_t>(d)];
    logits[static_cast<size_t>(c)] = s;
  }
  const float mx = *std::max_element(logits.begin(), logits.end());
  double sum = 0;
  p.probabilities.resize(static_cast<size_t>(k));
  for (int64_t c = 0; c < k; ++c) sum += (p.probabilities[static_cast<size_t>(c)] = std::exp(logits[static_cast<size_t>(c)] - mx));
  for (float& x : p.probabilities) x = static_cast<float>(x / sum);
  if (k == 2) {
    p.label = p.probabilities[1] >= threshold_ ? 1 : 0;
    p.token_weights.assign(text.tokens.size(), 0.0f);
    for (size_t f = 0; f < ids.size(); ++f) {
      const float* row = table_.data() + static_cast<int64_t>(ids[f]) * dim_;
      float s = 0;
      for (int64_t d = 0; d < dim_; ++d) s += row[d] * (w_[static_cast<size_t>(dim_ + d)] - w_[static_cast<size_t>(d)]);
      p.token_weights[static_cast<size_t>(token_of[f])] += s * weights[f];
    }
  } else {
    p.label = static_cast<int32_t>(std::max_element(p.probabilities.begin(), p.probabilities.end()) - p.probabilities.begin());
  }
  return p;
}

Result<std::vector<uint8_t>> ReviewModel::save(bool half) const {
  const int64_t k = static_cast<int64_t>(labels_.size()), v = vocab_.size();
  Graph g;
  VITRINE_ASSIGN_OR_RETURN(int ids, g.add_input("ids", Shape{1, max_features_}));
  VITRINE_ASSIGN_OR_RETURN(Tensor tt, Tensor::from_values(Shape{v, dim_}, table_.data(), table_.size()));
  VITRINE_ASSIGN_OR_RETURN(Tensor wt, Tensor::from_values(Shape{k, dim_}, w_.data(), w_.size()));
  VITRINE_ASSIGN_OR_RETURN(Tensor bt, Tensor::from_values(Shape{k}, b_.data(), b_.size()));
  VITRINE_ASSIGN_OR_RETURN(int tv, g.add_constant("table", std::move(tt)));
  VITRINE_ASSIGN_OR_RETURN(int wv, g.add_constant("out.w", std::move(wt)));
  VITRINE_ASSIGN_OR_RETURN(int bv, g.add_constant("out.b", std::move(bt)));
  VITRINE_ASSIGN_OR_RETURN(int wts, g.add_input("weights", Shape{1, max_features_}));
  OpAttrs sum;
  sum.strings["mode"] = "sum";
  VITRINE_ASSIGN_OR_RETURN(int h, g.add(OpType::kEmbeddingBag, "bag", {ids, tv, wts}, sum));
  VITRINE_ASSIGN_OR_RETURN(int logits, g.add(OpType::kDense, "out", {h, wv, bv}));
  VITRINE_RETURN_IF_ERROR(g.add_output(logits, "logits"));
  if (!fweights_.empty()) {  // per-feature weights (NB ratios or idf): a lookup the caller normalizes
    VITRINE_ASSIGN_OR_RETURN(Tensor nt, Tensor::from_values(Shape{v, 1}, fweights_.data(), fweights_.size()));
    VITRINE_ASSIGN_OR_RETURN(int nv, g.add_constant("feature_weights", std::move(nt)));
    VITRINE_ASSIGN_OR_RETURN(int lookup, g.add(OpType::kEmbedding, "feature_weight", {ids, nv}));
    VITRINE_RETURN_IF_ERROR(g.add_output(lookup, "feature_weight"));
  }
  Json::Array labels;
  for (const std::string& l : labels_) labels.emplace_back(l);
  Json meta = Json::object({{"kind", "bag"},
                            {"weighting", weighting_},
                            {"labels", Json::array(std::move(labels))},
                            {"dim", dim_},
                            {"max_features", max_features_},
                            {"threshold", threshold_},
                            {"vocab", vocab_.to_json()}});
  return save_model(g, {{"task", "review"}, {"review", meta.dump()}}, half);
}

Result<std::unique_ptr<ReviewModel>> ReviewModel::load(std::shared_ptr<const std::vector<uint8_t>> bytes, Context* ctx) {
  VITRINE_ASSIGN_OR_RETURN(LoadedModel lm, load_model(std::move(bytes)));
  VITRINE_RETURN_IF_ERROR(require_f32(*lm.graph, "review model"));
  auto it = lm.metadata.find("review");
  if (it == lm.metadata.end()) return Status::InvalidArgument("not a review model (no \"review\" metadata)");
  VITRINE_ASSIGN_OR_RETURN(Json meta, parse_json(it->second));
  const JsonRef j = meta.ref("review");
  std::unique_ptr<ReviewModel> m(new ReviewModel());
  m->ctx_ = ctx;
  VITRINE_ASSIGN_OR_RETURN(const Json::Array* labels, j["labels"].as_array());
  for (size_t i = 0; i < labels->size(); ++i) {
    VITRINE_ASSIGN_OR_RETURN(std::string l, j["labels"][i].as_string());
    m->labels_.push_back(std::move(l));
  }
  VITRINE_ASSIGN_OR_RETURN(m->dim_, j["dim"].as_int());
  VITRINE_ASSIGN_OR_RETURN(m->max_features_, j["max_features"].as_int());
  VITRINE_ASSIGN_OR_RETURN(m->threshold_, j["threshold"].as_number());
  VITRINE_ASSIGN_OR_RETURN(m->vocab_, TextVocab::from_json(j["vocab"]));
  if (m->labels_.size() < 2 || m->dim_ < 1 || m->max_features_ < 1 || m->max_features_ > kMaxReviewBag || !(m->threshold_ > 0 && m->threshold_ < 1)) {
    return Status::DataLoss("review model: bad labels, dim, max_features or threshold");
  }
  const int64_t k = static_cast<int64_t>(m->labels_.size()), v = m->vocab_.size();
  auto tensor = [&](const char* name, const Shape& want, std::vector<float>* dst) -> Status {
    VITRINE_ASSIGN_OR_RETURN(int id, lm.graph->find(name));
    const Tensor& t = lm.graph->value(id).constant;
    if (t.shape() != want) return Status::DataLoss(std::string("review model: ") + name + " is " + t.shape().to_string() + ", expected " + want.to_string());
    dst->assign(t.data(), t.data() + t.num_elements());
    for (float x : *dst) {
      if (!std::isfinite(x)) return Status::DataLoss(std::string("review model: ") + name + " holds a non-finite value");
    }
    return Status::Ok();
  };
  VITRINE_RETURN_IF_ERROR(tensor("table", Shape{v, m->dim_}, &m->table_));
  VITRINE_RETURN_IF_ERROR(tensor("out.w", Shape{k, m->dim_}, &m->w_));
  VITRINE_RETURN_IF_ERROR(tensor("out.b", Shape{k}, &m->b_));
  VITRINE_ASSIGN_OR_RETURN(m->weighting_, j["weighting"].string_or("mean"));
  if (m->weighting_ != "mean" && m->weighting_ != "nb" && m->weighting_ != "tfidf") return Status::DataLoss("review model: unknown weighting");
  if (m->weighting_ != "mean") VITRINE_RETURN_IF_ERROR(tensor("feature_weights", Shape{v, 1}, &m->fweights_));
  return m;
}


// ---- Review analysis --------------------------------------------------------------------------

namespace {

// Lower-cases UTF-8 the way the tokenizer does (invalid bytes kept as they are).
std::string lowercase(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    uint32_t cp;
    const size_t n = decode_utf8(s, i, &cp);
    if (n == 0) {
      out.push_back(s[i++]);
      continue;
    }
    append_utf8(lower(cp), &out);
    i += n;
  }
  return out;
}

std::string trimmed(std::string_view s) {
  const char* space = " \t\n\r\f\v";
  const size_t b = s.find_first_not_of(space);
  if (b == std::string_view::npos) return {};
  return std::string(s.substr(b, s.find_last_not_of(space) - b + 1));
}

}  // namespace

Result<std::unique_ptr<KeywordAspects>> KeywordAspects::create(const std::vector<Aspect>& aspects) {
  if (aspects.size() > 256) return Status::ResourceExhausted("at most 256 aspects, got " + std::to_string(aspects.size()));
  std::unique_ptr<KeywordAspects> k(new KeywordAspects());
  size_t total = 0;
  for (const Aspect& a : aspects) {
    if (a.name.empty()) return Status::InvalidArgument("an aspect needs a name");
    if (std::find(k->names_.begin(), k->names_.end(), a.name) != k->names_.end()) {
      return Status::InvalidArgument("aspect '" + a.name + "' is given twice");
    }
    if (a.keywords.empty()) return Status::InvalidArgument("aspect '" + a.name + "' needs a list of keywords");
    if ((total += a.keywords.size()) > 10000) return Status::ResourceExhausted("at most 10,000 aspect keywords in all");
    const int32_t id = static_cast<int32_t>(k->names_.size());
    k->names_.push_back(a.name);
    for (const std::string& w : a.keywords) {
      if (w.empty()) return Status::InvalidArgument("aspect '" + a.name + "' has an empty keyword");
      std::string key = lowercase(w);
      const bool prefix = key.size() > 1 && key.back() == '*';
      if (prefix) key.pop_back();
      std::vector<int32_t>& ids = (prefix ? k->prefix_ : k->exact_)[key];
      if (ids.empty() || ids.back() != id) ids.push_back(id);
      if (prefix) k->longest_prefix_ = std::max(k->longest_prefix_, key.size());
    }
  }
  return k;
}

Result<std::unique_ptr<KeywordAspects>> KeywordAspects::from_json(const JsonRef& j) {
  VITRINE_ASSIGN_OR_RETURN(const Json::Object* object, j.as_object());
  std::vector<Aspect> aspects;
  for (const auto& [name, words] : *object) {
    Aspect a;
    a.name = name;
    if (!words.is_array()) return Status::InvalidArgument("aspect '" + name + "' needs a list of keywords");
    for (const Json& w : words.array_items()) {
      if (!w.is_string()) return Status::InvalidArgument("aspect '" + name + "' needs a list of keywords (strings)");
      a.keywords.push_back(w.string_value());
    }
    aspects.push_back(std::move(a));
  }
  return create(aspects);
}

void KeywordAspects::detect(const TokenizedText& clause, std::vector<int32_t>* aspects) const {
  std::vector<bool> seen(names_.size(), false);
  auto mark = [&](const std::vector<int32_t>& ids) {
    for (int32_t id : ids) seen[static_cast<size_t>(id)] = true;
  };
  std::string key;
  for (const Token& t : clause.tokens) {
    auto it = exact_.find(t.text);
    if (it != exact_.end()) mark(it->second);
    for (size_t n = 1; n <= std::min(t.text.size(), longest_prefix_); ++n) {
      key.assign(t.text, 0, n);
      auto p = prefix_.find(key);
      if (p != prefix_.end()) mark(p->second);
    }
  }
  for (size_t i = 0; i < seen.size(); ++i) {
    if (seen[i]) aspects->push_back(static_cast<int32_t>(i));
  }
}

Result<ReviewAnalysis> analyze_review(const ReviewModel& model, const AspectDetector* detector, const ReviewRequest& r) {
  if (r.max_bytes < 1) return Status::InvalidArgument("max_bytes must be >= 1");
  if (r.top_words < 0) return Status::InvalidArgument("top_words must be >= 0");
  if (!(r.aspect_threshold <= 1)) return Status::InvalidArgument("aspect_threshold must be at most 1 (or < 0 for the model's)");
  const TokenizedText t = tokenize(r.text, r.max_bytes);
  VITRINE_ASSIGN_OR_RETURN(ReviewModel::Prediction p, model.predict(t));
  ReviewAnalysis a;
  a.label = p.label;
  a.probabilities = p.probabilities;
  a.tokens = static_cast<int64_t>(t.tokens.size());
  a.invalid_bytes = t.invalid_bytes;
  a.truncated = t.truncated;
  std::vector<size_t> order;
  for (size_t i = 0; i < p.token_weights.size(); ++i) {
    if (p.token_weights[i] != 0.0f) order.push_back(i);
  }
  const size_t keep = std::min(order.size(), static_cast<size_t>(r.top_words));
  std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(keep), order.end(), [&](size_t x, size_t y) {
    const float wx = std::fabs(p.token_weights[x]), wy = std::fabs(p.token_weights[y]);
    return wx != wy ? wx > wy : x < y;
  });
  for (size_t k = 0; k < keep; ++k) {
    const Token& tok = t.tokens[order[k]];
    a.words.push_back({(tok.negated ? "not " : "") + tok.text, p.token_weights[order[k]]});
  }
  if (!r.aspects || detector == nullptr) return a;
  // Only the parts of clauses that mention an aspect are scored on their own; a clause is cut at
  // contrast words, which are left out ("arrived broken, but the taste is great": "but" is no
  // verdict on the taste).
  std::vector<TokenizedText> parts;
  for (size_t c = 0; c < t.clauses.size(); ++c) {
    const TokenizedText ct = clause_text(t, c);
    size_t from = 0;
    for (size_t i = 0; i <= ct.tokens.size(); ++i) {
      const bool cut = i == ct.tokens.size() || (ct.tokens[i].kind == TokenKind::kWord && is_contrast(ct.tokens[i].text));
      if (!cut) continue;
      if (i > from) {
        const size_t b = ct.tokens[from].begin, e = i == ct.tokens.size() ? ct.text.size() : ct.tokens[i].begin;
        parts.push_back(tokenize(std::string_view(ct.text).substr(b, e - b), ct.text.size()));
      }
      from = i + 1;
    }
  }
  std::vector<int32_t> slot(detector->names().size(), -1), found;
  for (const TokenizedText& ct : parts) {
    if (ct.tokens.empty()) continue;
    found.clear();
    detector->detect(ct, &found);
    if (found.empty()) continue;
    VITRINE_ASSIGN_OR_RETURN(ReviewModel::Prediction cp, model.predict(ct));
    const float score = cp.probabilities.back();
    for (int32_t id : found) {
      if (id < 0 || static_cast<size_t>(id) >= slot.size()) return Status::Internal("aspect detector returned a bad index");
      int32_t& s = slot[static_cast<size_t>(id)];
      if (s >= 0 && !(std::fabs(score - 0.5f) > std::fabs(a.aspects[static_cast<size_t>(s)].score - 0.5f))) continue;
      ReviewAnalysis::Aspect asp{id, score, score >= (r.aspect_threshold >= 0 ? r.aspect_threshold : model.threshold()), trimmed(ct.text)};
      if (s < 0) {
        s = static_cast<int32_t>(a.aspects.size());
        a.aspects.push_back(std::move(asp));
      } else {
        a.aspects[static_cast<size_t>(s)] = std::move(asp);
      }
    }
  }
  return a;
}

ReviewSummary::ReviewSummary(std::vector<std::string> aspect_names) {
  for (std::string& n : aspect_names) {
    Aspect a;
    a.name = std::move(n);
    aspects_.push_back(std::move(a));
  }
}

void ReviewSummary::add(const ReviewAnalysis& r) {
  ++count_;
  positive_ += r.label == 1;
  truncated_ += r.truncated;
  for (const ReviewAnalysis::Aspect& m : r.aspects) {
    if (m.aspect < 0 || static_cast<size_t>(m.aspect) >= aspects_.size()) continue;
    Aspect& a = aspects_[static_cast<size_t>(m.aspect)];
    ++a.mentions;
    if (m.positive) {
      ++a.positive;
      if (!a.has_praise || m.score > a.best) a.praise = m.snippet, a.best = m.score, a.has_praise = true;
    } else {
      ++a.negative;
      if (!a.has_complaint || m.score < a.worst) a.complaint = m.snippet, a.worst = m.score, a.has_complaint = true;
    }
  }
}

namespace {
std::vector<std::string> most(const std::vector<ReviewSummary::Aspect>& aspects, size_t k, int64_t ReviewSummary::Aspect::*count) {
  std::vector<const ReviewSummary::Aspect*> list;
  for (const ReviewSummary::Aspect& a : aspects) {
    if (a.*count > 0) list.push_back(&a);
  }
  std::stable_sort(list.begin(), list.end(), [&](const auto* x, const auto* y) {
    return x->*count != y->*count ? x->*count > y->*count : x->name < y->name;
  });
  std::vector<std::string> out;
  for (size_t i = 0; i < std::min(k, list.size()); ++i) out.push_back(list[i]->name);
  return out;
}
}  // namespace

Json ReviewSummary::to_json() const {
  Json::Array list, praise, criticism;
  for (const Aspect& a : aspects_) {
    if (a.mentions == 0) continue;
    list.push_back(Json::object({{"aspect", a.name}, {"mentions", a.mentions}, {"positive", a.positive}, {"negative", a.negative},
                                 {"praise", a.has_praise ? Json(a.praise) : Json()},
                                 {"complaint", a.has_complaint ? Json(a.complaint) : Json()}}));
  }
  for (const std::string& n : praised()) praise.emplace_back(n);
  for (const std::string& n : criticized()) criticism.emplace_back(n);
  return Json::object({{"count", count_}, {"positive", positive_}, {"negative", count_ - positive_},
                       {"positiveShare", count_ ? static_cast<double>(positive_) / static_cast<double>(count_) : 0.0},
                       {"truncated", truncated_}, {"aspects", Json::array(std::move(list))},
                       {"praised", Json::array(std::move(praise))}, {"criticized", Json::array(std::move(criticism))}});
}

std::vector<std::string> ReviewSummary::praised(size_t k) const { return most(aspects_, k, &Aspect::positive); }
std::vector<std::string> ReviewSummary::criticized(size_t k) const { return most(aspects_, k, &Aspect::negative); }

}  // namespace vitrine
