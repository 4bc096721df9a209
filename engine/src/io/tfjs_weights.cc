// TensorFlow.js weight shards (tfjs_weights.h).
#include "tfjs_weights.h"

#include <cmath>
#include <cstring>
#include <vector>

#include "../core/checked.h"
#include "../core/half.h"

namespace vitrine {

namespace {
constexpr size_t kMaxWeightElements = size_t{1} << 28;
}  // namespace

Result<std::map<std::string, Tensor>> read_tfjs_weights(const JsonRef& manifest, const uint8_t* data, size_t size) {
  if (data == nullptr && size > 0) return Status::InvalidArgument("weights pointer is null");
  std::map<std::string, Tensor> out;
  VITRINE_ASSIGN_OR_RETURN(const Json::Array* groups, manifest.as_array());
  size_t offset = 0;
  for (size_t gi = 0; gi < groups->size(); ++gi) {
    const JsonRef specs = manifest[gi]["weights"];
    VITRINE_ASSIGN_OR_RETURN(const Json::Array* list, specs.as_array());
    for (size_t wi = 0; wi < list->size(); ++wi) {
      const JsonRef w = specs[wi];
      VITRINE_ASSIGN_OR_RETURN(std::string name, w["name"].as_string());
      VITRINE_ASSIGN_OR_RETURN(std::string dtype, w["dtype"].as_string());
      VITRINE_ASSIGN_OR_RETURN(const Json::Array* shape_json, w["shape"].as_array());
      std::vector<int64_t> dims;
      for (size_t d = 0; d < shape_json->size(); ++d) {
        VITRINE_ASSIGN_OR_RETURN(int64_t v, w["shape"][d].as_int());
        if (v < 0 || v > static_cast<int64_t>(kMaxWeightElements)) return Status::DataLoss("weight " + name + ": bad shape");
        dims.push_back(v);
      }
      // In int64 (size_t is 32 bits in wasm32), every non-zero dimension counted: no wrap-around.
      int64_t count64 = 0;
      if (!checked_product(dims, &count64) || count64 > static_cast<int64_t>(kMaxWeightElements)) {
        return Status::DataLoss("weight " + name + ": too large");
      }
      const size_t count = static_cast<size_t>(count64);
      if (dtype != "float32" && dtype != "int32" && dtype != "bool") {
        return Status::Unimplemented("weight " + name + ": dtype " + dtype + " (float32, int32 or bool)");
      }
      std::string qtype;
      double qmin = 0, qscale = 1;
      if (w["quantization"].ok()) {
        VITRINE_ASSIGN_OR_RETURN(qtype, w["quantization"]["dtype"].as_string());
        if (dtype != "float32") return Status::Unimplemented("weight " + name + ": quantized " + dtype);
        if (qtype == "uint8" || qtype == "uint16") {
          VITRINE_ASSIGN_OR_RETURN(qmin, w["quantization"]["min"].as_number());
          VITRINE_ASSIGN_OR_RETURN(qscale, w["quantization"]["scale"].as_number());
        } else if (qtype != "float16") {
          return Status::Unimplemented("weight " + name + ": quantization " + qtype);
        }
      }
      const size_t elem = qtype == "uint8" || dtype == "bool" ? 1 : (qtype == "uint16" || qtype == "float16") ? 2 : 4;
      if (count > (size - offset) / elem) {
        return Status::DataLoss("weights end early at '" + name + "' (need " + std::to_string(count * elem) + " bytes at offset " +
                                std::to_string(offset) + ", have " + std::to_string(size - offset) + ")");
      }
      VITRINE_ASSIGN_OR_RETURN(Shape shape, Shape::make(dims.empty() ? std::vector<int64_t>{1} : dims));
      const uint8_t* p = data + offset;
      Tensor t;
      if (dtype == "int32") {
        VITRINE_ASSIGN_OR_RETURN(t, Tensor::zeros(shape, DType::kI32));
        if (count) std::memcpy(t.mutable_data_as<int32_t>(), p, count * 4);  // little-endian, as wasm and x86
      } else if (dtype == "bool") {
        VITRINE_ASSIGN_OR_RETURN(t, Tensor::zeros(shape, DType::kBool));
        for (size_t i = 0; i < count; ++i) t.mutable_data_as<uint8_t>()[i] = p[i] != 0;
      } else {
        VITRINE_ASSIGN_OR_RETURN(t, Tensor::zeros(shape));
        float* dst = t.mutable_data();
        for (size_t i = 0; i < count; ++i) {
          float v;
          if (qtype == "uint8") {
            v = static_cast<float>(p[i] * qscale + qmin);
          } else if (qtype == "uint16" || qtype == "float16") {
            const uint16_t u = static_cast<uint16_t>(p[2 * i] | (p[2 * i + 1] << 8));
            v = qtype == "float16" ? half_bits_to_float(u) : static_cast<float>(u * qscale + qmin);
          } else {
            std::memcpy(&v, p + 4 * i, 4);
          }
          if (!std::isfinite(v)) return Status::DataLoss("weight " + name + " holds a non-finite value");
          dst[i] = v;
        }
      }
      offset += count * elem;
      out[name] = std::move(t);
    }
  }
  if (offset != size) {
    return Status::DataLoss("weight bytes: the manifest describes " + std::to_string(offset) + " bytes, got " + std::to_string(size));
  }
  return out;
}

Result<Tensor> tf_filter_to_ohwi(const Tensor& k, bool depthwise) {
  if (k.dtype() != DType::kF32 || k.shape().rank() != 4) return Status::InvalidArgument("filter must be a 4-D float32 tensor, got " + k.shape().to_string());
  const int64_t kh = k.shape()[0], kw = k.shape()[1], ci = k.shape()[2], co = k.shape()[3];
  const int64_t o = depthwise ? ci * co : co, per = depthwise ? 1 : ci;
  VITRINE_ASSIGN_OR_RETURN(Tensor w, Tensor::zeros(Shape{o, kh, kw, per}));
  for (int64_t a = 0; a < kh; ++a)
    for (int64_t b = 0; b < kw; ++b)
      for (int64_t i = 0; i < ci; ++i)
        for (int64_t j = 0; j < co; ++j) {
          const float v = k.data()[((a * kw + b) * ci + i) * co + j];
          if (depthwise) w.mutable_data()[((i * co + j) * kh + a) * kw + b] = v;
          else w.mutable_data()[((j * kh + a) * kw + b) * ci + i] = v;
        }
  return w;
}

}  // namespace vitrine
