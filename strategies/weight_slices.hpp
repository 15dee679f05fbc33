#pragma once
// Row and column blocks of full weights (tensor-parallel shards) and their all-gathers.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "comm/communicator.hpp"
#include "layers/views.hpp"

namespace ody::strategies::detail {

using Z = std::int64_t;

// Rows [r0, r0 + rows) of a row-major [*, cols] matrix.
inline layers::Array2 rows_of(const layers::Array2& w, Z r0, Z rows) {
  layers::Array2 out("rows", rows, w.extent(1));
  std::copy_n(w.data() + r0 * Z(w.extent(1)), rows * Z(w.extent(1)), out.data());
  return out;
}
// Columns [c0, c0 + cols) of a row-major [rows, *] matrix.
inline layers::Array2 cols_of(const layers::Array2& w, Z c0, Z cols) {
  const Z rows = w.extent(0), ld = w.extent(1);
  layers::Array2 out("cols", rows, cols);
  for (Z r = 0; r < rows; ++r) std::copy_n(w.data() + r * ld + c0, cols, out.data() + r * cols);
  return out;
}
// Full [rows, n·cols] on every rank from each rank's column block [rows, cols].
inline void gather_cols(comm::Communicator& comm, const layers::Array2& shard,
                        const layers::Array2& full) {
  const int n = comm.size();
  const Z rows = shard.extent(0), cols = shard.extent(1);
  std::vector<float> all(rows * cols * n);
  comm.all_gather(comm::cbuf(shard.data(), rows * cols), comm::buf(all));
  for (int s = 0; s < n; ++s)
    for (Z r = 0; r < rows; ++r)
      std::copy_n(all.data() + (s * rows + r) * cols, cols, full.data() + r * cols * n + s * cols);
}
// Full [n·rows, cols] on every rank from each rank's row block [rows, cols].
inline void gather_rows(comm::Communicator& comm, const layers::Array2& shard,
                        const layers::Array2& full) {
  const Z cnt = Z(shard.extent(0)) * Z(shard.extent(1));
  comm.all_gather(comm::cbuf(shard.data(), cnt), comm::buf(full.data(), cnt * comm.size()));
}

}  // namespace ody::strategies::detail
