// libFuzzer harness: the JSON parser (engine/src/io/json.cc). Whatever parses must dump and parse
// back to an equal value, and dumping that must give the same text (the writer is canonical).
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "fuzz_util.h"
#include "vitrine/json.h"

using namespace vitrine;

// Walks a value through JsonRef's typed accessors (they must fail cleanly on every type mismatch).
static void visit(const JsonRef& ref, int depth) {
  (void)ref.as_bool();
  (void)ref.as_number();
  (void)ref.as_int();
  (void)ref.as_string();
  (void)ref.int_or(7);
  (void)ref["key"].string_or("fallback");
  (void)ref[0].number_or(1.0);
  if (depth > 4) return;
  Result<const Json::Array*> array = ref.as_array();
  if (array.ok()) {
    size_t n = array.value()->size();
    for (size_t i = 0; i < n && i < 8; ++i) visit(ref[i], depth + 1);
  }
  Result<const Json::Object*> object = ref.as_object();
  if (object.ok()) {
    int seen = 0;
    for (const auto& member : *object.value()) {
      if (++seen > 8) break;
      visit(ref[member.first], depth + 1);
    }
  }
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  Result<Json> parsed = parse_json(text);
  if (!parsed.ok()) return 0;
  visit(JsonRef(parsed.value(), "root"), 0);
  const std::string dumped = parsed.value().dump();
  Result<Json> again = parse_json(dumped);
  if (!again.ok()) {
    std::fprintf(stderr, "dump does not parse back: %s\n%s\n", again.status().to_string().c_str(),
                 dumped.c_str());
    std::abort();
  }
  if (!(again.value() == parsed.value()) || again.value().dump() != dumped) {
    std::fprintf(stderr, "round trip changed the value:\n%s\n%s\n", dumped.c_str(),
                 again.value().dump().c_str());
    std::abort();
  }
  return 0;
}
