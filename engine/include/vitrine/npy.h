// NumPy .npy files (format 1.0/2.0, little-endian, C order): how the CLI tools and parity
// tests exchange tensors with Python.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "vitrine/tensor.h"

namespace vitrine {

// Parses a .npy image: '<f4', '<f8', '<f2', '<i8', '<i4', '|u1', '|i1' and '|b1'
// (bool, normalized to 0/1) C-order arrays; other dtypes, Fortran order and truncated data are
// errors naming the problem.
Result<Tensor> parse_npy(const uint8_t* data, size_t size);
// Serializes a tensor of any dtype as .npy (format 1.0).
std::vector<uint8_t> to_npy(const Tensor& tensor);

// File helpers (native builds).
Result<std::vector<uint8_t>> read_binary_file(const std::string& path);
Status write_binary_file(const std::string& path, const std::vector<uint8_t>& bytes);

}  // namespace vitrine
