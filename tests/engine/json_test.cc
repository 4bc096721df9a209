#include "vitrine/json.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace vitrine {
namespace {

// Checks that `status` failed with `code` and a message containing `fragment`.
::testing::AssertionResult FailsWith(const Status& status, StatusCode code,
                                     const std::string& fragment) {
  if (status.ok()) return ::testing::AssertionFailure() << "expected an error, got OK";
  if (status.code() != code) {
    return ::testing::AssertionFailure()
           << "expected code " << status_code_name(code) << ", got " << status.to_string();
  }
  if (status.message().find(fragment) == std::string::npos) {
    return ::testing::AssertionFailure()
           << "message \"" << status.message() << "\" lacks \"" << fragment << "\"";
  }
  return ::testing::AssertionSuccess();
}

Json Parse(const std::string& text) {
  Result<Json> j = parse_json(text);
  EXPECT_TRUE(j.ok()) << text << ": " << j.status().to_string();
  return j.ok() ? j.value() : Json();
}

TEST(Json, ParsesScalars) {
  EXPECT_TRUE(Parse("null").is_null());
  EXPECT_EQ(Parse(" true ").bool_value(), true);
  EXPECT_EQ(Parse("false").bool_value(), false);
  EXPECT_EQ(Parse("0").number_value(), 0.0);
  EXPECT_TRUE(std::signbit(Parse("-0").number_value()));
  EXPECT_EQ(Parse("-12").number_value(), -12.0);
  EXPECT_EQ(Parse("1.5").number_value(), 1.5);
  EXPECT_EQ(Parse("1e3").number_value(), 1000.0);
  EXPECT_EQ(Parse("-2.5E-3").number_value(), -2.5e-3);
  EXPECT_EQ(Parse("1E+2").number_value(), 100.0);
  EXPECT_EQ(Parse("0.1").number_value(), 0.1);
  EXPECT_EQ(Parse("1e-400").number_value(), 0.0);  // underflow is not an error
  EXPECT_EQ(Parse("\t\r\n\"text\" ").string_value(), "text");
}

TEST(Json, IntegersAreExactUpTo2Pow53) {
  const int64_t max = kMaxJsonSafeInteger;
  Json j = Parse("[9007199254740991, -9007199254740991, 123456789012345678, 9007199254740992]");
  EXPECT_EQ(j.ref()[0].as_int().value(), max);
  EXPECT_EQ(j.ref()[1].as_int().value(), -max);
  EXPECT_EQ(j.array_items()[2].number_value(), 123456789012345678.0);
  EXPECT_TRUE(FailsWith(j.ref()[3].as_int().status(), StatusCode::kInvalidArgument,
                        "[3]: integer 9007199254740992 is outside the exact range"));
  EXPECT_EQ(Json(max).dump(), "9007199254740991");
  EXPECT_EQ(Json(-max).dump(), "-9007199254740991");
  EXPECT_EQ(Parse(Json(max).dump()).number_value(), static_cast<double>(max));
  // Long integer literals beyond int64 still parse (as the nearest double).
  EXPECT_EQ(Parse("123456789012345678901234567890").number_value(), 1.2345678901234568e29);
}

TEST(Json, DecodesEscapesAndSurrogatePairs) {
  Json j = Parse(R"("a\u00e9\ud83d\ude00\n\"\\\/\b\f\r\t\u0000z")");
  EXPECT_EQ(j.string_value(),
            std::string("a\xC3\xA9\xF0\x9F\x98\x80\n\"\\/\b\f\r\t") + std::string(1, '\0') + "z");
  EXPECT_EQ(Parse(R"("\uD834\uDD1E")").string_value(), "\xF0\x9D\x84\x9E");  // U+1D11E, upper hex
  EXPECT_EQ(Parse("\"\xE2\x82\xAC\"").string_value(), "\xE2\x82\xAC");       // raw UTF-8 passes
}

TEST(Json, RejectsBadSurrogatesAndUtf8) {
  EXPECT_TRUE(FailsWith(parse_json(R"("\ude00")").status(), StatusCode::kDataLoss,
                        "byte 1: unpaired low surrogate"));
  EXPECT_TRUE(FailsWith(parse_json(R"("\ud83d")").status(), StatusCode::kDataLoss,
                        "byte 7: expected a \\u escape with a low surrogate"));
  EXPECT_TRUE(
      FailsWith(parse_json(R"("\ud83dx")").status(), StatusCode::kDataLoss, "low surrogate"));
  EXPECT_TRUE(
      FailsWith(parse_json(R"("\ud83d\u0041")").status(), StatusCode::kDataLoss,
                "byte 9: expected a low surrogate (DC00-DFFF) after a high surrogate, got 0041"));
  EXPECT_TRUE(FailsWith(parse_json(R"("\u12G4")").status(), StatusCode::kDataLoss,
                        "byte 5: expected 4 hex digits after \\u, got 'G'"));
  const char* bad_utf8[] = {"\"\xC0\x80\"",          // overlong NUL
                            "\"\xE0\x80\xAF\"",      // overlong '/'
                            "\"\xED\xA0\x80\"",      // encoded surrogate
                            "\"\xF4\x90\x80\x80\"",  // above U+10FFFF
                            "\"\xF5\x80\x80\x80\"",  // invalid lead byte
                            "\"\x80\"",              // lone continuation
                            "\"\xE2\x82\"",          // truncated sequence
                            "\"\xC3"};               // truncated at end of input
  for (const char* text : bad_utf8) {
    EXPECT_TRUE(FailsWith(parse_json(text).status(), StatusCode::kDataLoss,
                          "byte 1: expected valid UTF-8 in a string"))
        << text;
    EXPECT_FALSE(is_valid_utf8(std::string(text + 1)));
  }
  EXPECT_TRUE(is_valid_utf8("plain \xC3\xA9 \xF0\x9F\x98\x80 \xEF\xBF\xBF"));
}

TEST(Json, StrictRejectionsNameOffsetAndExpectation) {
  struct Case {
    std::string text;
    std::string fragment;
  };
  const Case cases[] = {
      {"",
       "byte 0: expected a value (object, array, string, number, true, false or null), got end of "
       "input"},
      {"   ", "byte 3: expected a value"},
      {"[1,]", "byte 3: expected a value"},
      {"{\"a\":1,}", "byte 7: expected a string key, got '}'"},
      {"{a:1}", "byte 1: expected a string key, got 'a'"},
      {"{\"a\" 1}", "byte 5: expected ':' after an object key, got '1'"},
      {"{\"a\":1 \"b\":2}", "byte 7: expected ',' or '}' after an object member, got '\"'"},
      {"[1 2]", "byte 3: expected ',' or ']' after an array element, got '2'"},
      {"[1", "byte 2: expected ',' or ']' after an array element, got end of input"},
      {"01", "byte 1: expected end of input after the JSON value, got '1'"},
      {"1.", "byte 2: expected a digit after '.', got end of input"},
      {".5", "byte 0: expected a value"},
      {"+1", "byte 0: expected a value"},
      {"-", "byte 1: expected a digit, got end of input"},
      {"-a", "byte 1: expected a digit, got 'a'"},
      {"1e", "byte 2: expected a digit in the exponent"},
      {"1e+", "byte 3: expected a digit in the exponent"},
      {"NaN", "byte 0: expected a value"},
      {"-Infinity", "byte 1: expected a digit, got 'I'"},
      {"1e400", "byte 0: number 1e400 is out of the range of a double"},
      {"'a'", "byte 0: expected a value"},
      {"\"abc",
       "byte 4: expected '\"' to close the string that starts at byte 0, got end of input"},
      {"\"a\tb\"",
       "byte 2: expected a string character (control characters must be escaped), got byte 0x09"},
      {"\"\\x\"", "byte 2: expected an escape character (one of \" \\ / b f n r t u), got 'x'"},
      {"tru", "byte 0: expected 'true', got 't'"},
      {"nul", "byte 0: expected 'null'"},
      {"falsey", "byte 5: expected end of input after the JSON value, got 'y'"},
      {"[1]x", "byte 3: expected end of input after the JSON value, got 'x'"},
      {"\xEF\xBB\xBF{}",
       "byte 0: expected a value (object, array, string, number, true, false or null), got byte "
       "0xEF"},
      {"// c\n1", "byte 0: expected a value"},
      {"{\"a\":1,\"a\":2}", "byte 7: duplicate key \"a\""},
      {"[1,\f2]", "byte 3: expected a value"},  // form feed is not JSON whitespace
      {"{}{}", "byte 2: expected end of input"},
  };
  for (const Case& c : cases) {
    EXPECT_TRUE(
        FailsWith(parse_json(c.text).status(), StatusCode::kDataLoss, "JSON: " + c.fragment))
        << "input: " << c.text;
  }
}

TEST(Json, DuplicateKeysAreFoundInLargeObjects) {
  std::string text = "{";
  for (int i = 0; i < 40; ++i) text += "\"k" + std::to_string(i) + "\":" + std::to_string(i) + ",";
  std::string ok_text = text + "\"last\":0}";
  EXPECT_EQ(Parse(ok_text).size(), 41u);
  std::string dup_text = text + "\"k\\u00317\":0}";  // "k17" written with an escape
  EXPECT_TRUE(
      FailsWith(parse_json(dup_text).status(), StatusCode::kDataLoss, "duplicate key \"k17\""));
}

TEST(Json, DepthLimit) {
  auto nested = [](int depth) {
    std::string s;
    for (int i = 0; i < depth; ++i) s += (i % 2) ? "{\"k\":" : "[";
    s += "1";
    for (int i = depth - 1; i >= 0; --i) s += (i % 2) ? "}" : "]";
    return s;
  };
  EXPECT_TRUE(parse_json(nested(kMaxJsonDepth)).ok());
  EXPECT_TRUE(FailsWith(parse_json(nested(kMaxJsonDepth + 1)).status(), StatusCode::kDataLoss,
                        "nesting deeper than 64 levels"));
  // Far deeper input fails the same way (no stack exhaustion).
  EXPECT_FALSE(parse_json(std::string(100000, '[')).ok());
}

TEST(Json, ObjectsKeepInsertionOrder) {
  Json j = Parse(R"({"zeta":1,"alpha":[true,null],"mid":{"x":"y"}})");
  ASSERT_TRUE(j.is_object());
  ASSERT_EQ(j.size(), 3u);
  EXPECT_EQ(j.object_members()[0].first, "zeta");
  EXPECT_EQ(j.object_members()[1].first, "alpha");
  EXPECT_EQ(j.object_members()[2].first, "mid");
  EXPECT_EQ(j.dump(), R"({"zeta":1,"alpha":[true,null],"mid":{"x":"y"}})");
  EXPECT_EQ(j.find("mid")->find("x")->string_value(), "y");
  EXPECT_EQ(j.find("nope"), nullptr);
}

TEST(Json, BuildsWithSetAndPushBack) {
  Json j;
  j.set("b", Json(1));
  j.set("a", Json("x"));
  j.set("b", Json(2));  // replaces in place
  Json list;
  list.push_back(Json(true));
  list.push_back(Json(nullptr));
  list.push_back(Json(2.5));
  j.set("list", list);
  EXPECT_EQ(j.dump(), R"({"b":2,"a":"x","list":[true,null,2.5]})");
  EXPECT_EQ(Json::array().dump(), "[]");
  EXPECT_EQ(Json::object().dump(), "{}");
  EXPECT_EQ(Json(uint8_t{200}).dump(), "200");
  EXPECT_EQ(Json(std::string("s")), Json("s"));
  EXPECT_NE(Json(1), Json("1"));
}

TEST(Json, DumpEscapesControlCharactersAndFormatsNumbers) {
  std::string s = "q\"b\\n\n\x01\x1f/\x7f\xC3\xA9";
  EXPECT_EQ(Json(s).dump(), "\"q\\\"b\\\\n\\n\\u0001\\u001f/\x7f\xC3\xA9\"");
  EXPECT_EQ(Parse(Json(s).dump()).string_value(), s);
  EXPECT_EQ(Json(3.0).dump(), "3");
  EXPECT_EQ(Json(-1.25).dump(), "-1.25");
  EXPECT_EQ(Json(0.1).dump(), "0.1");
  EXPECT_EQ(Json(1e300).dump(), "1e+300");
  EXPECT_EQ(Json(1.0 / 3.0).dump(), "0.3333333333333333");
  EXPECT_EQ(Json(std::nan("")).dump(), "null");
  EXPECT_EQ(Json(HUGE_VAL).dump(), "null");
}

// A random JSON tree; `depth` bounds the nesting.
Json RandomJson(std::mt19937& rng, int depth) {
  std::uniform_int_distribution<int> kind(0, depth > 0 ? 7 : 4);
  switch (kind(rng)) {
    case 0: return Json();
    case 1: return Json(rng() % 2 == 0);
    case 2: return Json(static_cast<int64_t>(rng() % 2000001) - 1000000);
    case 3: {
      std::uniform_real_distribution<double> mantissa(-1, 1);
      std::uniform_int_distribution<int> exponent(-300, 300);
      return Json(std::ldexp(mantissa(rng), exponent(rng)));
    }
    case 4: {
      static const char* pieces[] = {
          "a", "\"", "\\", "\n", "\x01", "\xC3\xA9", "\xF0\x9F\x98\x80", " ", "/", "\x7f", "z9"};
      std::string s;
      int n = static_cast<int>(rng() % 6);
      for (int i = 0; i < n; ++i) s += pieces[rng() % (sizeof(pieces) / sizeof(pieces[0]))];
      return Json(s);
    }
    case 5:
    case 6: {
      Json a = Json::array();
      int n = static_cast<int>(rng() % 5);
      for (int i = 0; i < n; ++i) a.push_back(RandomJson(rng, depth - 1));
      return a;
    }
    default: {
      Json o = Json::object();
      int n = static_cast<int>(rng() % 5);
      for (int i = 0; i < n; ++i)
        o.set("k" + std::to_string(rng() % 8), RandomJson(rng, depth - 1));
      return o;
    }
  }
}

TEST(Json, RandomTreesRoundTrip) {
  std::mt19937 rng(1234);
  for (int trial = 0; trial < 500; ++trial) {
    Json j = RandomJson(rng, 4);
    std::string text = j.dump();
    Result<Json> back = parse_json(text);
    ASSERT_TRUE(back.ok()) << text << ": " << back.status().to_string();
    EXPECT_EQ(back.value(), j) << text;
    EXPECT_EQ(back.value().dump(), text);
  }
}

TEST(Json, RandomMutationsNeverCrash) {
  std::mt19937 rng(99);
  std::string base =
      R"({"a":[1,2.5e-3,-0,"x\u00e9\ud83d\ude00"],"b":{"c":null,"d":true},"e":"\\"})";
  ASSERT_TRUE(parse_json(base).ok());
  const char alphabet[] = "{}[]\",:\\u0123456789eE+-.tfnl \x80\xC3\xED\xF0";
  int accepted = 0;
  for (int trial = 0; trial < 5000; ++trial) {
    std::string text = base;
    int edits = 1 + static_cast<int>(rng() % 3);
    for (int e = 0; e < edits; ++e) {
      size_t pos = rng() % text.size();
      switch (rng() % 3) {
        case 0: text[pos] = alphabet[rng() % (sizeof(alphabet) - 1)]; break;
        case 1: text.erase(pos, 1); break;
        default: text.insert(pos, 1, alphabet[rng() % (sizeof(alphabet) - 1)]); break;
      }
      if (text.empty()) text = "x";
    }
    Result<Json> j = parse_json(text);
    if (j.ok()) {
      ++accepted;
      EXPECT_TRUE(parse_json(j.value().dump()).ok()) << text;
    } else {
      EXPECT_EQ(j.status().code(), StatusCode::kDataLoss);
      EXPECT_EQ(j.status().message().rfind("JSON: byte ", 0), 0u) << j.status().message();
    }
  }
  EXPECT_GT(accepted, 0);
}

TEST(JsonRef, TypedAccessNamesThePath) {
  Json config = Parse(R"({"architecture":{"layers":[{"units":8},{"units":16},{"units":"32"}],
                          "name":"mlp","rate":0.5,"dropout":true},
                          "odd.key":{"x":1},"list":[1,2]})");
  JsonRef arch = config.ref()["architecture"];
  EXPECT_EQ(arch["layers"][1]["units"].as_int().value(), 16);
  EXPECT_EQ(arch["name"].as_string().value(), "mlp");
  EXPECT_EQ(arch["rate"].as_number().value(), 0.5);
  EXPECT_EQ(arch["dropout"].as_bool().value(), true);
  EXPECT_EQ(arch["layers"].as_array().value()->size(), 3u);
  EXPECT_EQ(arch.as_object().value()->size(), 4u);
  EXPECT_EQ(arch["layers"][2]["units"].path(), "architecture.layers[2].units");

  EXPECT_TRUE(FailsWith(arch["layers"][2]["units"].as_int().status(), StatusCode::kInvalidArgument,
                        "architecture.layers[2].units: expected a number, got a string"));
  EXPECT_TRUE(FailsWith(arch["rate"].as_int().status(), StatusCode::kInvalidArgument,
                        "architecture.rate: expected an integer, got 0.5"));
  EXPECT_TRUE(FailsWith(arch["name"].as_bool().status(), StatusCode::kInvalidArgument,
                        "architecture.name: expected a boolean, got a string"));
  EXPECT_TRUE(FailsWith(arch["layers"].as_object().status(), StatusCode::kInvalidArgument,
                        "architecture.layers: expected an object, got an array"));
  EXPECT_TRUE(FailsWith(arch["rate"].as_array().status(), StatusCode::kInvalidArgument,
                        "architecture.rate: expected an array, got a number"));
  EXPECT_TRUE(FailsWith(arch["layers"][5]["units"].as_int().status(), StatusCode::kInvalidArgument,
                        "architecture.layers[5]: index out of range (the array has 3 elements)"));
  EXPECT_TRUE(FailsWith(arch["layers"][-1].status(), StatusCode::kInvalidArgument,
                        "architecture.layers[-1]: index out of range"));
  EXPECT_TRUE(FailsWith(arch["missing"]["deeper"].as_string().status(),
                        StatusCode::kInvalidArgument,
                        "architecture.missing: missing (no such key)"));
  EXPECT_TRUE(FailsWith(arch["name"]["x"].status(), StatusCode::kInvalidArgument,
                        "architecture.name: expected an object, got a string"));
  EXPECT_TRUE(FailsWith(arch["name"][0].status(), StatusCode::kInvalidArgument,
                        "architecture.name: expected an array, got a string"));
  EXPECT_TRUE(FailsWith(config.ref()["odd.key"]["y"].as_int().status(),
                        StatusCode::kInvalidArgument, "[\"odd.key\"].y: missing"));
  EXPECT_TRUE(FailsWith(config.ref()[0].status(), StatusCode::kInvalidArgument,
                        "(top level): expected an array, got an object"));
  EXPECT_TRUE(FailsWith(config.ref("config")["list"].as_string().status(),
                        StatusCode::kInvalidArgument,
                        "config.list: expected a string, got an array"));
  EXPECT_TRUE(arch["layers"][size_t{0}].ok());
  EXPECT_FALSE(arch["nope"].ok());
  EXPECT_TRUE(arch["nope"].is_missing());
  EXPECT_FALSE(arch["name"]["x"].is_missing());
  EXPECT_EQ(arch["nope"].get(), nullptr);
}

TEST(JsonRef, DefaultsApplyOnlyToMissingKeys) {
  Json config = Parse(R"({"a":{"n":3,"s":"x"}})");
  JsonRef root = config.ref();
  EXPECT_EQ(root["a"]["n"].int_or(7).value(), 3);
  EXPECT_EQ(root["a"]["m"].int_or(7).value(), 7);
  EXPECT_EQ(root["b"]["m"].int_or(7).value(), 7);  // a missing ancestor counts as missing
  EXPECT_EQ(root["a"]["q"].number_or(1.5).value(), 1.5);
  EXPECT_EQ(root["a"]["q"].bool_or(true).value(), true);
  EXPECT_EQ(root["a"]["q"].string_or("dflt").value(), "dflt");
  EXPECT_EQ(root["a"]["s"].string_or("dflt").value(), "x");
  EXPECT_TRUE(FailsWith(root["a"]["s"].int_or(7).status(), StatusCode::kInvalidArgument,
                        "a.s: expected a number, got a string"));
  EXPECT_TRUE(FailsWith(root["a"]["s"]["z"].int_or(7).status(), StatusCode::kInvalidArgument,
                        "a.s: expected an object, got a string"));
}

}  // namespace
}  // namespace vitrine
