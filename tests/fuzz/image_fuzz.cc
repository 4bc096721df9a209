// libFuzzer harness: image pre-processing (preprocess_image in tag.h). The first 12 bytes choose the
// image (width, height, pixel format, row stride) and the model's input spec (size, channels,
// layout, mean/std, background) and the fit / invert modes; the rest are the pixels (repeated to
// fill the image). Sizes are bounded so that each input is cheap, except that a few inputs claim a
// side above the 16384-pixel limit (with a buffer that really holds them) to reach that check.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <algorithm>
#include <limits>
#include <vector>

#include "fuzz_util.h"
#include "vitrine/tag.h"

using namespace vitrine;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::set_fuzz_limits();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::ByteReader in(data, size);
  const uint8_t shape = in.u8(), flags = in.u8(), spec_h = in.u8(), spec_w = in.u8();
  const uint16_t w16 = in.u16(), h16 = in.u16();
  const uint8_t stride_pad = in.u8(), norm = in.u8(), norm_value = in.u8(), modes = in.u8();

  ImageView image;
  image.format = static_cast<PixelFormat>(shape % 3);
  const int64_t channels = pixel_format_channels(image.format);
  if ((shape >> 2) % 16 == 15) {  // a long, thin image: over the size limit on one side
    image.width = 16380 + w16 % 8;
    image.height = 1 + h16 % 2;
  } else {
    image.width = w16 % 129;  // 0 is allowed (must be refused)
    image.height = h16 % 129;
  }
  const int64_t row = image.width * channels;
  image.row_bytes = (shape & 0x40) ? row + stride_pad % 9 - 2 : 0;  // may be shorter than a row
  const int64_t stride = image.row_bytes > 0 ? image.row_bytes : row;
  std::vector<uint8_t> pixels(static_cast<size_t>(stride > row ? stride : row) *
                              static_cast<size_t>(image.height) + 1);
  const size_t given = in.left();
  for (size_t i = 0; i < pixels.size(); i += given ? given : pixels.size()) {  // the given bytes, repeated
    if (given) std::memcpy(pixels.data() + i, in.here(), std::min(given, pixels.size() - i));
  }
  image.pixels = (shape & 0x80) && size % 5 == 0 ? nullptr : pixels.data();

  ImageInputSpec spec;
  spec.height = spec_h % 65;  // 0 is allowed (must be refused)
  spec.width = spec_w % 65;
  spec.channels = (flags & 1) ? 1 : 3;
  if (flags & 2) spec.channels = flags % 5;  // anything in 0..4
  spec.nchw = (flags & 4) != 0;
  spec.dark_background = (flags & 8) != 0;
  if (norm & 1) {  // usually one value per channel, sometimes a wrong count
    const int64_t count = (norm & 2) ? (norm >> 2) % 5 : spec.channels;
    spec.mean.assign(static_cast<size_t>(count > 0 ? count : 0), norm_value / 255.0f);
  }
  if (norm & 0x10) {
    float s = (norm & 0x20) ? 0.0f : (norm & 0x40) ? -1.0f : (norm_value + 1) / 256.0f;
    if (norm & 0x80) s = std::numeric_limits<float>::quiet_NaN();
    spec.std.assign(static_cast<size_t>(spec.channels > 0 ? spec.channels : 1), s);
  }

  PreprocessOptions options;
  options.fit = static_cast<FitMode>(modes % 3);
  options.invert = static_cast<InvertMode>((modes / 3) % 3);

  const int64_t out_size = spec.height * spec.width * (spec.channels > 0 ? spec.channels : 1);
  std::vector<float> out(static_cast<size_t>(out_size > 0 ? out_size : 1));
  Status status = preprocess_image(image, spec, options, out.data());
  if (status.ok()) {
    if (!spec.validate().ok()) {
      std::fprintf(stderr, "preprocess_image accepted an invalid spec\n");
      std::abort();
    }
  }
  return 0;
}
