#pragma once
// The sequence all-gather and reduce-scatter of TP-SP and Odysseus (contiguous layout, any
// batch size): [B, L/N, w] on every rank <-> [B, L, w].
#include <algorithm>
#include <cstdint>
#include <vector>

#include "comm/communicator.hpp"
#include "strategies/wire.hpp"

namespace ody::strategies::detail {

using Z = std::int64_t;

// Contiguous layout. local [B, Ll, w] on every rank -> full [B, L, w] (all_gather of
// B·Ll·w floats; a permutation when B > 1). scratch: B·L·w floats.
// bf16_wire: the all-gather moves bf16 (wire.hpp) through temporary bf16 buffers.
inline void gather_seq(comm::Communicator& comm, const float* local, float* full,
                       std::vector<float>& scratch, Z B, Z Ll, Z w, comm::Tag tag = 0,
                       bool bf16_wire = false) {
  const int n = comm.size();
  const Z blk = B * Ll * w;
  if (bf16_wire) {
    std::vector<bf16> send(blk), recv(blk * n);
    convert_n(local, blk, send.data());
    comm.all_gather(comm::cbuf(send), comm::buf(recv), tag);
    for (int s = 0; s < n; ++s)
      for (Z b = 0; b < B; ++b)
        convert_n(recv.data() + s * blk + b * Ll * w, Ll * w, full + (b * Ll * n + s * Ll) * w);
    return;
  }
  if (B == 1) {
    comm.all_gather(comm::cbuf(local, blk), comm::buf(full, blk * n), tag);
    return;
  }
  scratch.resize(blk * n);
  comm.all_gather(comm::cbuf(local, blk), comm::buf(scratch), tag);
  for (int s = 0; s < n; ++s)
    for (Z b = 0; b < B; ++b)
      std::copy_n(scratch.data() + s * blk + b * Ll * w, Ll * w, full + (b * Ll * n + s * Ll) * w);
}
// full [B, L, w] partial sums on every rank -> local [B, Ll, w] = sum over ranks of this
// rank's tokens (reduce_scatter of B·Ll·w floats). scratch: B·L·w floats.
inline void reduce_scatter_seq(comm::Communicator& comm, const float* full, float* local,
                               std::vector<float>& scratch, Z B, Z Ll, Z w, comm::Tag tag = 0) {
  const int n = comm.size();
  const Z blk = B * Ll * w;
  if (B == 1) {
    comm.reduce_scatter(comm::cbuf(full, blk * n), comm::buf(local, blk), comm::ReduceOp::sum, tag);
    return;
  }
  scratch.resize(blk * n);
  for (int s = 0; s < n; ++s)
    for (Z b = 0; b < B; ++b)
      std::copy_n(full + (b * Ll * n + s * Ll) * w, Ll * w, scratch.data() + s * blk + b * Ll * w);
  comm.reduce_scatter(comm::cbuf(scratch), comm::buf(local, blk), comm::ReduceOp::sum, tag);
}

}  // namespace ody::strategies::detail
