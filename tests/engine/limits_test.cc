// Resource limits (limits.h): this build's defaults, validated changes, and the image-pixel limit
// applied by the tagger's pre-processing.
#include <gtest/gtest.h>

#include <vector>

#include "vitrine/limits.h"
#include "vitrine/tag.h"

namespace vitrine {
namespace {

// Restores the limits in force when the test started.
struct LimitsGuard {
  Limits saved = default_limits();
  ~LimitsGuard() { set_default_limits(saved); }
};

TEST(Limits, BuildDefaultsAndValidatedChanges) {
  LimitsGuard guard;
  const Limits d = Limits::build_defaults();
  EXPECT_EQ(d.max_tensor_elements, sizeof(size_t) == 8 ? int64_t{1} << 28 : int64_t{1} << 27);
  EXPECT_EQ(d.max_image_pixels, sizeof(size_t) == 8 ? int64_t{1} << 26 : int64_t{1} << 25);
  Limits bad = d;
  bad.max_nodes = 0;
  Status s = set_limits(bad);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("max_nodes"), std::string::npos) << s.message();
  EXPECT_EQ(default_limits().max_nodes, guard.saved.max_nodes);  // nothing changed
  Limits lower = d;
  lower.max_nodes = 5;
  ASSERT_TRUE(set_limits(lower).ok());
  EXPECT_EQ(default_limits().max_nodes, 5);
  EXPECT_EQ(check_limit("graph", 6, "nodes", 5, "max_nodes").code(), StatusCode::kResourceExhausted);
}

TEST(Limits, ImagePixelsAreCheckedBeforePreprocessing) {
  LimitsGuard guard;
  ImageInputSpec spec;
  spec.height = spec.width = 4;
  spec.channels = 1;
  std::vector<float> out(16);
  std::vector<uint8_t> pixels(40 * 30, 128);
  const ImageView view{pixels.data(), 40, 30, PixelFormat::kGray, 0};
  ASSERT_TRUE(preprocess_image(view, spec, PreprocessOptions{}, out.data()).ok());
  Limits l = default_limits();
  l.max_image_pixels = 40 * 30 - 1;
  ASSERT_TRUE(set_limits(l).ok());
  Status s = preprocess_image(view, spec, PreprocessOptions{}, out.data());
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted);
  EXPECT_NE(s.message().find("max_image_pixels"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace vitrine
