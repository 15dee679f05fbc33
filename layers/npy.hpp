#pragma once
// .npy files (NumPy format 1.0, 2.0 and 3.0 headers): float32, little-endian, C order, the
// only kind the project exchanges (docs/algorithms.md, "File exchange"). Every failure is
// an ody::Error naming the file: wrong shape (expected and found), wrong dtype, Fortran
// order, bad magic, a damaged header, a truncated or over-long file.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <vector>

namespace ody::layers {

struct NpyArray {
  std::vector<std::size_t> shape;  // () for a scalar
  std::vector<float> data;         // row-major, product(shape) elements
};

// Shape from the header only (the data is not read, but the file size is checked).
std::vector<std::size_t> npy_shape(const std::filesystem::path& path);
// The whole array, any shape.
NpyArray read_npy(const std::filesystem::path& path);
// Reads into dst (product(expected_shape) floats) after checking the shape.
void read_npy(const std::filesystem::path& path, const std::vector<std::size_t>& expected_shape,
              float* dst);
// Writes data [shape] (version 1.0 header, 2.0 when the header exceeds 64 KiB).
void write_npy(const std::filesystem::path& path, const float* data,
               const std::vector<std::size_t>& shape);
// int64 ('<i8'), write only: what the project hands to outside checkers besides float32
// tensors (a packed sequence's document lengths, doc_lens.npy).
void write_npy_int64(const std::filesystem::path& path, const std::int64_t* data,
                     const std::vector<std::size_t>& shape);

}  // namespace ody::layers
