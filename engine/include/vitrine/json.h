// JSON: a small value type, a strict parser and a compact writer.
//
// Used for safetensors headers and for the model description kept in their `__metadata__`
// (architecture, labels, preprocessing). The parser follows RFC 8259 strictly: no comments, no
// trailing commas, no NaN/Infinity, no leading zeros, no byte-order mark, UTF-8 only, and it
// rejects duplicate object keys and nesting deeper than kMaxJsonDepth. Errors are Status values
// (DataLoss) naming the byte offset and what was expected there.
//
// Typed access goes through JsonRef, which remembers the path it took, so a wrong type reads
// "architecture.layers[2].units: expected a number, got a string".
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "vitrine/status.h"

namespace vitrine {

// Containers nested deeper than this (an array inside an object inside ... ) are rejected.
inline constexpr int kMaxJsonDepth = 64;
// Largest integer magnitude that JsonRef::as_int() accepts: 2^53 - 1, exact in a double (and in
// JS).
inline constexpr int64_t kMaxJsonSafeInteger = (int64_t{1} << 53) - 1;

class JsonRef;

// A JSON value: null, boolean, number (a double), string (UTF-8), array, or object. Objects keep
// their members in insertion order. Values own their children; copying a Json copies the tree.
class Json {
 public:
  enum class Type : uint8_t { kNull, kBool, kNumber, kString, kArray, kObject };
  using Array = std::vector<Json>;
  using Member = std::pair<std::string, Json>;
  using Object = std::vector<Member>;  // insertion order, keys unique

  Json() = default;                                             // null
  Json(std::nullptr_t) {}                                       // NOLINT: implicit by design (null)
  Json(bool value) : type_(Type::kBool), bool_(value) {}        // NOLINT
  Json(double value) : type_(Type::kNumber), number_(value) {}  // NOLINT
  // Any integer type; exact up to 2^53 in magnitude (the number is stored as a double).
  template <typename T,
            std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>, int> = 0>
  Json(T value) : type_(Type::kNumber), number_(static_cast<double>(value)) {}  // NOLINT
  Json(const char* value) : type_(Type::kString), string_(value) {}             // NOLINT
  Json(std::string value) : type_(Type::kString), string_(std::move(value)) {}  // NOLINT
  Json(std::string_view value) : type_(Type::kString), string_(value) {}        // NOLINT

  static Json array(Array items = {});
  // Members must have unique keys (the parser guarantees it; set() keeps it).
  static Json object(Object members = {});

  Type type() const { return type_; }
  bool is_null() const { return type_ == Type::kNull; }
  bool is_bool() const { return type_ == Type::kBool; }
  bool is_number() const { return type_ == Type::kNumber; }
  bool is_string() const { return type_ == Type::kString; }
  bool is_array() const { return type_ == Type::kArray; }
  bool is_object() const { return type_ == Type::kObject; }
  // "null", "a boolean", "a number", "a string", "an array", "an object" (for messages).
  static const char* type_name(Type type);

  // Unchecked access: the value of the given kind, or false / 0 / empty for another kind. Use
  // JsonRef for access that reports a wrong type.
  bool bool_value() const { return type_ == Type::kBool && bool_; }
  double number_value() const { return type_ == Type::kNumber ? number_ : 0.0; }
  const std::string& string_value() const;
  const Array& array_items() const;
  const Object& object_members() const;
  // Elements of an array or members of an object; 0 for any other value.
  size_t size() const;
  // The member named `key`, or nullptr when this is not an object or has no such key.
  const Json* find(std::string_view key) const;

  // Appends to an array (a null value becomes an empty array first; asserts on other kinds).
  void push_back(Json value);
  // Sets member `key`, replacing an existing one in place or appending a new one (a null value
  // becomes an empty object first; asserts on other kinds). Returns the stored value.
  Json& set(std::string key, Json value);

  // Compact text (no spaces). Strings escape '"', '\\' and control characters; other UTF-8 passes
  // through. Integral numbers below 2^53 print as integers, others with the fewest digits that
  // read back to the same double; NaN and infinities (which JSON cannot hold) print as null.
  std::string dump() const;

  // Deep equality (numbers by value, objects in member order).
  bool operator==(const Json& other) const;
  bool operator!=(const Json& other) const { return !(*this == other); }

  // Typed, path-tracking access starting at this value; `name` prefixes every path in messages
  // (e.g. "config"). The JsonRef points into this value: keep it alive and unchanged meanwhile.
  JsonRef ref(std::string name = "") const;

 private:
  void dump_to(std::string* out) const;

  Type type_ = Type::kNull;
  bool bool_ = false;
  double number_ = 0.0;
  std::string string_;
  Array array_;
  Object object_;
};

// Parses one JSON text (RFC 8259: any value at the top, surrounded by optional whitespace).
// Errors (DataLoss) read "JSON: byte 17: expected ',' or '}' after an object member, got 'x'".
Result<Json> parse_json(std::string_view text);

// Whether `text` is well-formed UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF).
bool is_valid_utf8(std::string_view text);

// A cursor into a Json tree that remembers its path ("architecture.layers[2].units") and the first
// lookup that failed, so lookups chain without checks and the final typed access reports where
// things went wrong:
//
//   JsonRef layer = config.ref()["architecture"]["layers"][2];
//   Result<int64_t> units = layer["units"].as_int();
//   // "architecture.layers[2].units: expected a number, got a string"
//
// Does not own the tree: it holds a pointer into it, so the tree must outlive the cursor.
class JsonRef {
 public:
  // A cursor at `root`, named `name` in messages ("" shows as "(top level)").
  explicit JsonRef(const Json& root, std::string name = "");

  // The member `key` of an object. Lookup errors (not an object; key absent) are kept, not
  // reported, until a typed access or status() is asked for.
  JsonRef operator[](std::string_view key) const;
  JsonRef operator[](const char* key) const { return (*this)[std::string_view(key)]; }
  // Element `index` of an array (any integer type; negative or out of range is an error).
  template <typename T,
            std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>, int> = 0>
  JsonRef operator[](T index) const {
    if constexpr (std::is_signed_v<T>) {
      return element(static_cast<int64_t>(index));
    } else {
      return element(static_cast<uint64_t>(index) > static_cast<uint64_t>(INT64_MAX)
                         ? INT64_MAX
                         : static_cast<int64_t>(index));
    }
  }

  // The path in messages: keys joined with '.', indices as [i], odd keys as ["a.b"].
  const std::string& path() const { return path_; }
  // Whether every lookup so far succeeded.
  bool ok() const { return value_ != nullptr; }
  // Whether a lookup failed only because an object key was absent (so a default may apply).
  bool is_missing() const { return missing_; }
  // OK, or the first failed lookup as InvalidArgument ("layers[2].units: missing (no such key)").
  Status status() const;
  // The value, or nullptr after a failed lookup.
  const Json* get() const { return value_; }

  // Typed access: the value, or the lookup error, or "<path>: expected <kind>, got <kind>" (all
  // errors InvalidArgument).
  Result<const Json*> value() const;
  Result<bool> as_bool() const;
  Result<double> as_number() const;
  // A number with no fractional part and magnitude at most kMaxJsonSafeInteger.
  Result<int64_t> as_int() const;
  Result<std::string> as_string() const;
  Result<const Json::Array*> as_array() const;
  Result<const Json::Object*> as_object() const;

  // Like the above, but a missing key (anywhere along the path) gives `fallback`; a wrong type is
  // still an error.
  Result<bool> bool_or(bool fallback) const;
  Result<double> number_or(double fallback) const;
  Result<int64_t> int_or(int64_t fallback) const;
  Result<std::string> string_or(std::string fallback) const;

 private:
  JsonRef() = default;
  JsonRef element(int64_t index) const;
  Status type_error(const char* expected) const;

  const Json* value_ = nullptr;
  std::string path_;
  std::string error_;     // message of the first failed lookup (value_ == nullptr)
  bool missing_ = false;  // that failure was an absent key
};

}  // namespace vitrine
