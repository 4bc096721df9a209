// libFuzzer harness: review text through the tokenizer and the whole analysis (analyze_review)
// with the shipped review model (models/reviews/fine-foods.safetensors, or $VITRINE_FUZZ_REVIEW_MODEL)
// and the facade's default keyword aspects (DEFAULT_ASPECTS of web/src/review.js). The input is the
// review text; its length picks the request's top_words and a max_bytes cut.
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string_view>

#include "fuzz_util.h"
#include "run_util.h"
#include "vitrine/text.h"

using namespace vitrine;

static std::unique_ptr<ReviewModel> g_model;
static std::unique_ptr<KeywordAspects> g_aspects;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::set_fuzz_limits();
  auto bytes = std::make_shared<const std::vector<uint8_t>>(
      fuzz::read_fixture("VITRINE_FUZZ_REVIEW_MODEL", "models/reviews/fine-foods.safetensors"));
  Result<std::unique_ptr<ReviewModel>> model = ReviewModel::load(bytes, fuzz::fuzz_context());
  if (!model.ok()) {
    std::fprintf(stderr, "review model: %s\n", model.status().to_string().c_str());
    std::exit(2);
  }
  g_model = std::move(model).value();
  // The same keywords as DEFAULT_ASPECTS in web/src/review.js.
  Result<std::unique_ptr<KeywordAspects>> aspects = KeywordAspects::create({
      {"taste", {"taste*", "flavor*", "flavour*", "delicious", "yummy", "bland", "sweet*", "salty", "bitter",
                 "sour", "spicy", "tasty", "aftertaste", "savory"}},
      {"price", {"price*", "expensive", "cheap*", "cost*", "value", "money", "worth", "overpriced", "deal",
                 "bargain", "afford*", "$"}},
      {"packaging", {"packag*", "package*", "box*", "container*", "bag", "bags", "wrapper*", "sealed", "seal",
                     "jar*", "bottle*", "can", "cans", "lid"}},
      {"delivery", {"deliver*", "shipping", "shipped", "ship", "arriv*", "order*", "amazon", "shipment", "late",
                    "damaged", "broken"}},
      {"quality", {"quality", "ingredient*", "organic", "natural", "healthy", "artificial", "fake", "real",
                   "product"}},
      {"freshness", {"fresh*", "stale", "expired", "expiration", "moldy", "rancid", "old", "crisp*", "soggy"}},
      {"service", {"service", "customer", "seller", "refund*", "return*", "support", "replace*", "company"}},
      {"size", {"size*", "small", "large", "big", "tiny", "portion*", "quantity", "amount", "ounce*", "oz",
                "count", "pack"}},
  });
  if (!aspects.ok()) {
    std::fprintf(stderr, "aspects: %s\n", aspects.status().to_string().c_str());
    std::exit(2);
  }
  g_aspects = std::move(aspects).value();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  TokenizedText tokens = tokenize(text, size % 3 == 0 ? size / 2 + 1 : (1 << 20));
  for (size_t i = 0; i < tokens.clauses.size() && i < 4; ++i) (void)clause_text(tokens, i);
  (void)g_model->predict(tokens);

  ReviewRequest request;
  request.text = text;
  request.aspects = size % 5 != 0;
  request.top_words = static_cast<int32_t>(size % 9);
  if (size % 7 == 0) request.max_bytes = size / 3;
  Result<ReviewAnalysis> analysis = analyze_review(*g_model, g_aspects.get(), request);
  if (analysis.ok()) {
    const ReviewAnalysis& a = analysis.value();
    if (a.label < 0 || static_cast<size_t>(a.label) >= g_model->labels().size()) std::abort();
    for (const ReviewAnalysis::Aspect& aspect : a.aspects) {
      if (aspect.aspect < 0 || static_cast<size_t>(aspect.aspect) >= g_aspects->names().size()) std::abort();
    }
  }
  return 0;
}
