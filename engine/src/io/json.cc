// JSON value, strict RFC 8259 parser, compact writer and path-tracking typed access.
#include "vitrine/json.h"

#include "../core/utf8.h"

#include <cassert>
#include <clocale>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>

namespace vitrine {
namespace {

const std::string kEmptyString;
const Json::Array kEmptyArray;
const Json::Object kEmptyObject;

// ---------------------------------------------------------------------------------------------
// Numbers <-> text, independent of the C locale's decimal point.

char locale_decimal_point() {
  const std::lconv* lc = std::localeconv();
  return (lc && lc->decimal_point && lc->decimal_point[0]) ? lc->decimal_point[0] : '.';
}

// `text` is a validated JSON number.
double parse_double(std::string_view text) {
  std::string copy(text);
  char point = locale_decimal_point();
  if (point != '.') {
    for (char& c : copy)
      if (c == '.') c = point;
  }
  return std::strtod(copy.c_str(), nullptr);
}

void append_number(double value, std::string* out) {
  if (!std::isfinite(value)) {
    *out += "null";
    return;
  }
  char buf[40];
  if (value == std::floor(value) && std::fabs(value) <= static_cast<double>(kMaxJsonSafeInteger)) {
    std::snprintf(buf, sizeof(buf), "%lld", static_cast<long long>(value));
    *out += buf;
    return;
  }
  for (int precision = 15; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof(buf), "%.*g", precision, value);
    if (parse_double(buf) == value) break;  // parse_double maps '.' to the locale's point
  }
  char point = locale_decimal_point();
  for (char* c = buf; *c; ++c)
    if (*c == point) *c = '.';
  *out += buf;
}

// ---------------------------------------------------------------------------------------------
// UTF-8.

// Length of the well-formed UTF-8 sequence starting at text[pos] (a byte >= 0x80), or 0.
size_t utf8_sequence_length(std::string_view text, size_t pos) {
  uint32_t cp;
  return decode_utf8(text, pos, &cp);
}

void append_escaped(std::string_view s, std::string* out) {
  out->push_back('"');
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': *out += "\\\""; break;
      case '\\': *out += "\\\\"; break;
      case '\b': *out += "\\b"; break;
      case '\f': *out += "\\f"; break;
      case '\n': *out += "\\n"; break;
      case '\r': *out += "\\r"; break;
      case '\t': *out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", c);
          *out += buf;
        } else {
          out->push_back(ch);
        }
    }
  }
  out->push_back('"');
}

// ---------------------------------------------------------------------------------------------
// Parser: recursive descent over the bytes, one error path that names offset and expectation.

class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  Result<Json> parse_document() {
    Json value;
    skip_whitespace();
    VITRINE_RETURN_IF_ERROR(parse_value(&value, 0));
    skip_whitespace();
    if (pos_ != text_.size()) return error(pos_, "end of input after the JSON value");
    return value;
  }

 private:
  bool at_end() const { return pos_ >= text_.size(); }
  char peek() const { return text_[pos_]; }

  void skip_whitespace() {
    while (!at_end() && (peek() == ' ' || peek() == '\t' || peek() == '\n' || peek() == '\r'))
      ++pos_;
  }

  std::string describe(size_t offset) const {
    if (offset >= text_.size()) return "end of input";
    auto c = static_cast<unsigned char>(text_[offset]);
    char buf[16];
    if (c >= 0x20 && c < 0x7F) {
      std::snprintf(buf, sizeof(buf), "'%c'", c);
    } else {
      std::snprintf(buf, sizeof(buf), "byte 0x%02X", c);
    }
    return buf;
  }

  Status error(size_t offset, const std::string& expected) const {
    return Status::DataLoss("JSON: byte " + std::to_string(offset) + ": expected " + expected +
                            ", got " + describe(offset));
  }

  Status parse_value(Json* out, int depth) {
    const char* kValue = "a value (object, array, string, number, true, false or null)";
    if (at_end()) return error(pos_, kValue);
    switch (peek()) {
      case '{': return parse_object(out, depth + 1);
      case '[': return parse_array(out, depth + 1);
      case '"': {
        std::string s;
        VITRINE_RETURN_IF_ERROR(parse_string(&s));
        *out = Json(std::move(s));
        return Status::Ok();
      }
      case 't': return parse_literal("true", Json(true), out);
      case 'f': return parse_literal("false", Json(false), out);
      case 'n': return parse_literal("null", Json(), out);
      default:
        if (peek() == '-' || (peek() >= '0' && peek() <= '9')) return parse_number(out);
        return error(pos_, kValue);
    }
  }

  Status parse_literal(std::string_view word, Json value, Json* out) {
    if (text_.substr(pos_, word.size()) != word) {
      return error(pos_, "'" + std::string(word) + "'");
    }
    pos_ += word.size();
    *out = std::move(value);
    return Status::Ok();
  }

  Status check_depth(int depth) const {
    if (depth > kMaxJsonDepth) {
      return Status::DataLoss("JSON: byte " + std::to_string(pos_) + ": nesting deeper than " +
                              std::to_string(kMaxJsonDepth) + " levels");
    }
    return Status::Ok();
  }

  Status parse_array(Json* out, int depth) {
    VITRINE_RETURN_IF_ERROR(check_depth(depth));
    ++pos_;  // '['
    Json::Array items;
    skip_whitespace();
    if (!at_end() && peek() == ']') {
      ++pos_;
      *out = Json::array(std::move(items));
      return Status::Ok();
    }
    while (true) {
      skip_whitespace();
      Json item;
      VITRINE_RETURN_IF_ERROR(parse_value(&item, depth));
      items.push_back(std::move(item));
      skip_whitespace();
      if (at_end() || (peek() != ',' && peek() != ']')) {
        return error(pos_, "',' or ']' after an array element");
      }
      if (text_[pos_++] == ']') break;
    }
    *out = Json::array(std::move(items));
    return Status::Ok();
  }

  Status parse_object(Json* out, int depth) {
    VITRINE_RETURN_IF_ERROR(check_depth(depth));
    ++pos_;  // '{'
    Json::Object members;
    std::set<std::string> large_object_keys;  // used once linear duplicate checks get slow
    constexpr size_t kLinearCheckLimit = 16;
    skip_whitespace();
    if (!at_end() && peek() == '}') {
      ++pos_;
      *out = Json::object(std::move(members));
      return Status::Ok();
    }
    while (true) {
      skip_whitespace();
      if (at_end() || peek() != '"') return error(pos_, "a string key");
      size_t key_offset = pos_;
      std::string key;
      VITRINE_RETURN_IF_ERROR(parse_string(&key));
      bool duplicate = false;
      if (members.size() < kLinearCheckLimit) {
        for (const Json::Member& m : members) duplicate = duplicate || m.first == key;
      } else {
        if (large_object_keys.empty()) {
          for (const Json::Member& m : members) large_object_keys.insert(m.first);
        }
        duplicate = !large_object_keys.insert(key).second;
      }
      if (duplicate) {
        std::string quoted;
        append_escaped(key, &quoted);
        return Status::DataLoss("JSON: byte " + std::to_string(key_offset) + ": duplicate key " +
                                quoted);
      }
      skip_whitespace();
      if (at_end() || peek() != ':') return error(pos_, "':' after an object key");
      ++pos_;
      skip_whitespace();
      Json value;
      VITRINE_RETURN_IF_ERROR(parse_value(&value, depth));
      members.emplace_back(std::move(key), std::move(value));
      skip_whitespace();
      if (at_end() || (peek() != ',' && peek() != '}')) {
        return error(pos_, "',' or '}' after an object member");
      }
      if (text_[pos_++] == '}') break;
    }
    *out = Json::object(std::move(members));
    return Status::Ok();
  }

  // Reads 4 hex digits at pos_ into *value.
  Status parse_hex4(uint32_t* value) {
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      if (at_end()) return error(pos_, "4 hex digits after \\u");
      char c = peek();
      uint32_t digit;
      if (c >= '0' && c <= '9') {
        digit = static_cast<uint32_t>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        digit = static_cast<uint32_t>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        digit = static_cast<uint32_t>(c - 'A' + 10);
      } else {
        return error(pos_, "4 hex digits after \\u");
      }
      v = v * 16 + digit;
      ++pos_;
    }
    *value = v;
    return Status::Ok();
  }

  Status parse_string(std::string* out) {
    size_t start = pos_;
    ++pos_;  // '"'
    while (true) {
      if (at_end()) {
        return error(pos_, "'\"' to close the string that starts at byte " + std::to_string(start));
      }
      auto c = static_cast<unsigned char>(peek());
      if (c == '"') {
        ++pos_;
        return Status::Ok();
      }
      if (c < 0x20) return error(pos_, "a string character (control characters must be escaped)");
      if (c >= 0x80) {
        size_t length = utf8_sequence_length(text_, pos_);
        if (length == 0) return error(pos_, "valid UTF-8 in a string");
        out->append(text_.data() + pos_, length);
        pos_ += length;
        continue;
      }
      if (c != '\\') {
        out->push_back(static_cast<char>(c));
        ++pos_;
        continue;
      }
      size_t escape_offset = pos_;
      ++pos_;
      if (at_end()) return error(pos_, "an escape character after '\\'");
      char e = peek();
      ++pos_;
      switch (e) {
        case '"': out->push_back('"'); break;
        case '\\': out->push_back('\\'); break;
        case '/': out->push_back('/'); break;
        case 'b': out->push_back('\b'); break;
        case 'f': out->push_back('\f'); break;
        case 'n': out->push_back('\n'); break;
        case 'r': out->push_back('\r'); break;
        case 't': out->push_back('\t'); break;
        case 'u': {
          uint32_t cp = 0;
          VITRINE_RETURN_IF_ERROR(parse_hex4(&cp));
          if (cp >= 0xDC00 && cp <= 0xDFFF) {
            return Status::DataLoss("JSON: byte " + std::to_string(escape_offset) +
                                    ": unpaired low surrogate in a \\u escape");
          }
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (text_.substr(pos_, 2) != "\\u") {
              return error(pos_, "a \\u escape with a low surrogate after a high surrogate");
            }
            pos_ += 2;
            size_t low_offset = pos_;
            uint32_t low = 0;
            VITRINE_RETURN_IF_ERROR(parse_hex4(&low));
            if (low < 0xDC00 || low > 0xDFFF) {
              return Status::DataLoss("JSON: byte " + std::to_string(low_offset) +
                                      ": expected a low surrogate (DC00-DFFF) after a high "
                                      "surrogate, got " +
                                      std::string(text_.substr(low_offset, 4)));
            }
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          }
          append_utf8(cp, out);
          break;
        }
        default: return error(pos_ - 1, "an escape character (one of \" \\ / b f n r t u)");
      }
    }
  }

  Status parse_number(Json* out) {
    size_t start = pos_;
    auto is_digit = [&] { return !at_end() && peek() >= '0' && peek() <= '9'; };
    if (peek() == '-') ++pos_;
    if (!is_digit()) return error(pos_, "a digit");
    if (peek() == '0') {
      ++pos_;
    } else {
      while (is_digit()) ++pos_;
    }
    bool integral = true;
    if (!at_end() && peek() == '.') {
      integral = false;
      ++pos_;
      if (!is_digit()) return error(pos_, "a digit after '.'");
      while (is_digit()) ++pos_;
    }
    if (!at_end() && (peek() == 'e' || peek() == 'E')) {
      integral = false;
      ++pos_;
      if (!at_end() && (peek() == '+' || peek() == '-')) ++pos_;
      if (!is_digit()) return error(pos_, "a digit in the exponent");
      while (is_digit()) ++pos_;
    }
    std::string_view text = text_.substr(start, pos_ - start);
    size_t digits = text.size() - (text[0] == '-' ? 1 : 0);
    double value;
    if (integral && digits <= 18) {  // exact in int64, then one rounding to double
      int64_t v = 0;
      for (char c : text)
        if (c != '-') v = v * 10 + (c - '0');
      value = static_cast<double>(text[0] == '-' ? -v : v);
      if (text[0] == '-' && v == 0) value = -0.0;
    } else {
      value = parse_double(text);
    }
    if (!std::isfinite(value)) {
      return Status::DataLoss("JSON: byte " + std::to_string(start) + ": number " +
                              std::string(text) + " is out of the range of a double");
    }
    *out = Json(value);
    return Status::Ok();
  }

  std::string_view text_;
  size_t pos_ = 0;
};

// Path component for a key: bare when it looks like an identifier, else ["..."].
std::string key_path(const std::string& parent, std::string_view key) {
  bool plain = !key.empty();
  for (char c : key) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-';
    plain = plain && ok;
  }
  if (plain) return parent.empty() ? std::string(key) : parent + "." + std::string(key);
  std::string quoted;
  append_escaped(key, &quoted);
  return parent + "[" + quoted + "]";
}

std::string shown_path(const std::string& path) { return path.empty() ? "(top level)" : path; }

}  // namespace

// ---------------------------------------------------------------------------------------------
// Json

Json Json::array(Array items) {
  Json j;
  j.type_ = Type::kArray;
  j.array_ = std::move(items);
  return j;
}

Json Json::object(Object members) {
  Json j;
  j.type_ = Type::kObject;
  j.object_ = std::move(members);
  return j;
}

const char* Json::type_name(Type type) {
  switch (type) {
    case Type::kNull: return "null";
    case Type::kBool: return "a boolean";
    case Type::kNumber: return "a number";
    case Type::kString: return "a string";
    case Type::kArray: return "an array";
    case Type::kObject: return "an object";
  }
  return "an unknown value";
}

const std::string& Json::string_value() const {
  return type_ == Type::kString ? string_ : kEmptyString;
}
const Json::Array& Json::array_items() const {
  return type_ == Type::kArray ? array_ : kEmptyArray;
}
const Json::Object& Json::object_members() const {
  return type_ == Type::kObject ? object_ : kEmptyObject;
}

size_t Json::size() const {
  if (type_ == Type::kArray) return array_.size();
  if (type_ == Type::kObject) return object_.size();
  return 0;
}

const Json* Json::find(std::string_view key) const {
  if (type_ != Type::kObject) return nullptr;
  for (const Member& m : object_)
    if (m.first == key) return &m.second;
  return nullptr;
}

void Json::push_back(Json value) {
  if (type_ == Type::kNull) type_ = Type::kArray;
  assert(type_ == Type::kArray);
  if (type_ == Type::kArray) array_.push_back(std::move(value));
}

Json& Json::set(std::string key, Json value) {
  if (type_ == Type::kNull) type_ = Type::kObject;
  assert(type_ == Type::kObject);
  for (Member& m : object_) {
    if (m.first == key) {
      m.second = std::move(value);
      return m.second;
    }
  }
  object_.emplace_back(std::move(key), std::move(value));
  return object_.back().second;
}

std::string Json::dump() const {
  std::string out;
  dump_to(&out);
  return out;
}

void Json::dump_to(std::string* out) const {
  switch (type_) {
    case Type::kNull: *out += "null"; break;
    case Type::kBool: *out += bool_ ? "true" : "false"; break;
    case Type::kNumber: append_number(number_, out); break;
    case Type::kString: append_escaped(string_, out); break;
    case Type::kArray:
      out->push_back('[');
      for (size_t i = 0; i < array_.size(); ++i) {
        if (i) out->push_back(',');
        array_[i].dump_to(out);
      }
      out->push_back(']');
      break;
    case Type::kObject:
      out->push_back('{');
      for (size_t i = 0; i < object_.size(); ++i) {
        if (i) out->push_back(',');
        append_escaped(object_[i].first, out);
        out->push_back(':');
        object_[i].second.dump_to(out);
      }
      out->push_back('}');
      break;
  }
}

bool Json::operator==(const Json& other) const {
  if (type_ != other.type_) return false;
  switch (type_) {
    case Type::kNull: return true;
    case Type::kBool: return bool_ == other.bool_;
    case Type::kNumber: return number_ == other.number_;
    case Type::kString: return string_ == other.string_;
    case Type::kArray: return array_ == other.array_;
    case Type::kObject: return object_ == other.object_;
  }
  return false;
}

JsonRef Json::ref(std::string name) const { return JsonRef(*this, std::move(name)); }

Result<Json> parse_json(std::string_view text) { return Parser(text).parse_document(); }

bool is_valid_utf8(std::string_view text) {
  size_t pos = 0;
  while (pos < text.size()) {
    if (static_cast<uint8_t>(text[pos]) < 0x80) {
      ++pos;
      continue;
    }
    size_t length = utf8_sequence_length(text, pos);
    if (length == 0) return false;
    pos += length;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// JsonRef

JsonRef::JsonRef(const Json& root, std::string name) : value_(&root), path_(std::move(name)) {}

JsonRef JsonRef::operator[](std::string_view key) const {
  JsonRef next;
  next.path_ = key_path(path_, key);
  if (!value_) {
    next.error_ = error_;
    next.missing_ = missing_;
    return next;
  }
  if (!value_->is_object()) {
    next.error_ =
        shown_path(path_) + ": expected an object, got " + Json::type_name(value_->type());
    return next;
  }
  next.value_ = value_->find(key);
  if (!next.value_) {
    next.error_ = shown_path(next.path_) + ": missing (no such key)";
    next.missing_ = true;
  }
  return next;
}

JsonRef JsonRef::element(int64_t index) const {
  JsonRef next;
  next.path_ = path_ + "[" + std::to_string(index) + "]";
  if (!value_) {
    next.error_ = error_;
    next.missing_ = missing_;
    return next;
  }
  if (!value_->is_array()) {
    next.error_ = shown_path(path_) + ": expected an array, got " + Json::type_name(value_->type());
    return next;
  }
  if (index < 0 || static_cast<uint64_t>(index) >= value_->size()) {
    next.error_ = shown_path(next.path_) + ": index out of range (the array has " +
                  std::to_string(value_->size()) + " elements)";
    return next;
  }
  next.value_ = &value_->array_items()[static_cast<size_t>(index)];
  return next;
}

Status JsonRef::status() const { return value_ ? Status::Ok() : Status::InvalidArgument(error_); }

Status JsonRef::type_error(const char* expected) const {
  return Status::InvalidArgument(shown_path(path_) + ": expected " + expected + ", got " +
                                 Json::type_name(value_->type()));
}

Result<const Json*> JsonRef::value() const {
  if (!value_) return status();
  return value_;
}

Result<bool> JsonRef::as_bool() const {
  if (!value_) return status();
  if (!value_->is_bool()) return type_error("a boolean");
  return value_->bool_value();
}

Result<double> JsonRef::as_number() const {
  if (!value_) return status();
  if (!value_->is_number()) return type_error("a number");
  return value_->number_value();
}

Result<int64_t> JsonRef::as_int() const {
  if (!value_) return status();
  if (!value_->is_number()) return type_error("a number");
  double v = value_->number_value();
  if (v != std::floor(v)) {
    std::string text;
    append_number(v, &text);
    return Status::InvalidArgument(shown_path(path_) + ": expected an integer, got " + text);
  }
  if (std::fabs(v) > static_cast<double>(kMaxJsonSafeInteger)) {
    std::string text;
    append_number(v, &text);
    return Status::InvalidArgument(shown_path(path_) + ": integer " + text +
                                   " is outside the exact range ±(2^53 - 1)");
  }
  return static_cast<int64_t>(v);
}

Result<std::string> JsonRef::as_string() const {
  if (!value_) return status();
  if (!value_->is_string()) return type_error("a string");
  return value_->string_value();
}

Result<const Json::Array*> JsonRef::as_array() const {
  if (!value_) return status();
  if (!value_->is_array()) return type_error("an array");
  return &value_->array_items();
}

Result<const Json::Object*> JsonRef::as_object() const {
  if (!value_) return status();
  if (!value_->is_object()) return type_error("an object");
  return &value_->object_members();
}

Result<bool> JsonRef::bool_or(bool fallback) const {
  if (missing_) return fallback;
  return as_bool();
}

Result<double> JsonRef::number_or(double fallback) const {
  if (missing_) return fallback;
  return as_number();
}

Result<int64_t> JsonRef::int_or(int64_t fallback) const {
  if (missing_) return fallback;
  return as_int();
}

Result<std::string> JsonRef::string_or(std::string fallback) const {
  if (missing_) return fallback;
  return as_string();
}

}  // namespace vitrine
