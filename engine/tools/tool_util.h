// Helpers shared by the command-line tools.
#pragma once

#include <cstdio>
#include <string>
#include <utility>

#include <vector>

#include "vitrine/json.h"
#include "vitrine/model_file.h"
#include "vitrine/npy.h"
#include "vitrine/status.h"

namespace vitrine::tools {

// Prints "<tool>: <status>" to stderr and returns the tools' error exit code.
inline int fail(const char* tool, const Status& s) {
  std::fprintf(stderr, "%s: %s\n", tool, s.to_string().c_str());
  return 2;
}

// A .npy file as a tensor; a float64 file becomes f32 (what most model inputs and training data
// are) unless `f64_as` is DType::kF64.
inline Result<Tensor> load_npy(const std::string& path, DType f64_as = DType::kF32) {
  Result<std::vector<uint8_t>> bytes = read_binary_file(path);
  if (!bytes.ok()) return bytes.status();
  Result<Tensor> t = parse_npy(bytes->data(), bytes->size());
  if (!t.ok()) return Status(t.status().code(), path + ": " + t.status().message());
  if (t->dtype() != DType::kF64 || f64_as == DType::kF64) return t;
  Result<Tensor> f = Tensor::zeros(t->shape());
  if (!f.ok()) return f.status();
  for (int64_t i = 0; i < t->num_elements(); ++i) f->mutable_data()[i] = static_cast<float>(t->data_as<double>()[i]);
  return f;
}

// "NAME=VALUE" -> (NAME, VALUE); no '=' -> ("", VALUE).
inline std::pair<std::string, std::string> split_assignment(const std::string& v) {
  const size_t eq = v.find('=');
  return eq == std::string::npos ? std::make_pair(std::string(), v) : std::make_pair(v.substr(0, eq), v.substr(eq + 1));
}

// The weight files a TF.js model.json (at `json_path`) lists in its weightsManifest, read from its
// folder and concatenated in manifest order. Paths must stay inside the folder.
inline Result<std::vector<uint8_t>> read_tfjs_shards(const std::string& json_text, const std::string& json_path) {
  VITRINE_ASSIGN_OR_RETURN(Json root, parse_json(json_text));
  const JsonRef manifest = root.ref("model.json")["weightsManifest"];
  VITRINE_ASSIGN_OR_RETURN(const Json::Array* groups, manifest.as_array());
  const size_t slash = json_path.find_last_of('/');
  const std::string dir = slash == std::string::npos ? "" : json_path.substr(0, slash + 1);
  std::vector<uint8_t> all;
  for (size_t g = 0; g < groups->size(); ++g) {
    const JsonRef paths = manifest[g]["paths"];
    VITRINE_ASSIGN_OR_RETURN(const Json::Array* list, paths.as_array());
    for (size_t i = 0; i < list->size(); ++i) {
      VITRINE_ASSIGN_OR_RETURN(std::string p, paths[i].as_string());
      if (p.empty() || p[0] == '/' || p.find("..") != std::string::npos) {
        return Status::InvalidArgument("model.json: weight path '" + p + "' must stay inside the model's folder");
      }
      VITRINE_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, read_binary_file(dir + p));
      all.insert(all.end(), bytes.begin(), bytes.end());
    }
  }
  return all;
}

}  // namespace vitrine::tools
