#pragma once
// Internal helpers shared by the strategies (not a public API): the sequence <-> head
// all-to-all of Ulysses, the sequence all-gather / reduce-scatter of TP-SP and Odysseus
// (contiguous layout, any batch size), and row/column slices of weights.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "comm/communicator.hpp"
#include "layers/block.hpp"
#include "layers/views.hpp"
#include "strategies/wire.hpp"

namespace ody::strategies::detail {

using Z = std::int64_t;

// Heads sharded over n ranks: rank j gets [head_start(j), head_start(j) + heads_per_rank).
// With heads < n (kv heads under GQA, n % heads == 0) each rank gets the one kv head its
// query heads read, so kv heads are replicated n / heads times.
inline Z heads_per_rank(Z heads, int n) { return std::max<Z>(heads / n, 1); }
inline Z head_start(Z heads, int n, int j) { return Z(j) * heads / n; }

// src [B, Ll, heads, Dh] (sequence-sharded) -> dst [B, L, c, Dh] (head-sharded, sequence in
// rank order), c = heads_per_rank. send/recv: scratch of B·Ll·c·Dh·n elements of the wire
// type W (float, or bf16: wire.hpp), converted on packing and unpacking.
template <class W>
comm::WorkPtr seq_to_head_post(comm::Communicator& comm, const float* src, std::vector<W>& send,
                               std::vector<W>& recv, Z B, Z Ll, Z heads, Z Dh, comm::Tag tag) {
  const int n = comm.size();
  const Z c = heads_per_rank(heads, n), blk = B * Ll * c * Dh;
  send.resize(blk * n);
  recv.resize(blk * n);
  for (int j = 0; j < n; ++j) {
    const Z h0 = head_start(heads, n, j);
    for (Z t = 0; t < B * Ll; ++t) convert_n(src + (t * heads + h0) * Dh, c * Dh, send.data() + j * blk + t * c * Dh);
  }
  return comm.all_to_all_async(comm::cbuf(send), comm::buf(recv), tag);
}
// seq_map (optional, [n·Ll]): rank s's local token j lands at sequence index
// seq_map[s·Ll + j] instead of s·Ll + j (USP's zigzag regrouping, usp.hpp).
template <class W>
void seq_to_head_finish(const std::vector<W>& recv, float* dst, int n, Z B, Z Ll, Z heads, Z Dh,
                        const Z* seq_map = nullptr) {
  const Z c = heads_per_rank(heads, n), blk = B * Ll * c * Dh, L = Ll * n;
  if (seq_map) {
    for (int s = 0; s < n; ++s)
      for (Z b = 0; b < B; ++b)
        for (Z j = 0; j < Ll; ++j)
          convert_n(recv.data() + s * blk + (b * Ll + j) * c * Dh, c * Dh, dst + (b * L + seq_map[s * Ll + j]) * c * Dh);
    return;
  }
  for (int s = 0; s < n; ++s)
    for (Z b = 0; b < B; ++b)
      convert_n(recv.data() + s * blk + b * Ll * c * Dh, Ll * c * Dh, dst + (b * L + s * Ll) * c * Dh);
}

// Inverse: src [B, L, c, Dh] (head-sharded) -> dst [B, Ll, heads, Dh]. accumulate: dst +=
// (replicated kv heads' gradients sum into their one source head; dst must be zeroed).
// seq_map: as seq_to_head_finish (the inverse permutation is applied).
template <class W>
comm::WorkPtr head_to_seq_post(comm::Communicator& comm, const float* src, std::vector<W>& send,
                               std::vector<W>& recv, Z B, Z Ll, Z heads, Z Dh, comm::Tag tag,
                               const Z* seq_map = nullptr) {
  const int n = comm.size();
  const Z c = heads_per_rank(heads, n), blk = B * Ll * c * Dh, L = Ll * n;
  send.resize(blk * n);
  recv.resize(blk * n);
  if (seq_map) {
    for (int s = 0; s < n; ++s)
      for (Z b = 0; b < B; ++b)
        for (Z j = 0; j < Ll; ++j)
          convert_n(src + (b * L + seq_map[s * Ll + j]) * c * Dh, c * Dh, send.data() + s * blk + (b * Ll + j) * c * Dh);
    return comm.all_to_all_async(comm::cbuf(send), comm::buf(recv), tag);
  }
  for (int j = 0; j < n; ++j)
    for (Z b = 0; b < B; ++b)
      convert_n(src + (b * L + j * Ll) * c * Dh, Ll * c * Dh, send.data() + j * blk + b * Ll * c * Dh);
  return comm.all_to_all_async(comm::cbuf(send), comm::buf(recv), tag);
}
template <class W>
void head_to_seq_finish(const std::vector<W>& recv, float* dst, int n, Z B, Z Ll, Z heads, Z Dh, bool accumulate) {
  const Z c = heads_per_rank(heads, n), blk = B * Ll * c * Dh;
  if (accumulate) {
    for (int s = 0; s < n; ++s) {
      const Z h0 = head_start(heads, n, s);
      for (Z t = 0; t < B * Ll; ++t)
        for (Z e = 0; e < c * Dh; ++e) dst[(t * heads + h0) * Dh + e] += widen(recv[s * blk + t * c * Dh + e]);
    }
    return;
  }
  for (int s = 0; s < n; ++s) {
    const Z h0 = head_start(heads, n, s);
    for (Z t = 0; t < B * Ll; ++t) convert_n(recv.data() + s * blk + t * c * Dh, c * Dh, dst + (t * heads + h0) * Dh);
  }
}

// Contiguous layout. local [B, Ll, w] on every rank -> full [B, L, w] (all_gather of
// B·Ll·w floats; a permutation when B > 1). scratch: B·L·w floats.
// bf16_wire: the all-gather moves bf16 (wire.hpp) through temporary bf16 buffers.
inline void gather_seq(comm::Communicator& comm, const float* local, float* full, std::vector<float>& scratch,
                       Z B, Z Ll, Z w, comm::Tag tag = 0, bool bf16_wire = false) {
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
inline void gather_cols(comm::Communicator& comm, const layers::Array2& shard, const layers::Array2& full) {
  const int n = comm.size();
  const Z rows = shard.extent(0), cols = shard.extent(1);
  std::vector<float> all(rows * cols * n);
  comm.all_gather(comm::cbuf(shard.data(), rows * cols), comm::buf(all));
  for (int s = 0; s < n; ++s)
    for (Z r = 0; r < rows; ++r)
      std::copy_n(all.data() + (s * rows + r) * cols, cols, full.data() + r * cols * n + s * cols);
}
// Full [n·rows, cols] on every rank from each rank's row block [rows, cols].
inline void gather_rows(comm::Communicator& comm, const layers::Array2& shard, const layers::Array2& full) {
  const Z cnt = Z(shard.extent(0)) * Z(shard.extent(1));
  comm.all_gather(comm::cbuf(shard.data(), cnt), comm::buf(full.data(), cnt * comm.size()));
}

// Replicated weights: sums every weight gradient over the group, all nine packed into one
// buffer so that it is a single all-reduce (what the strategies' cost() charges).
inline void all_reduce_replicated_grads(comm::Communicator& comm, const layers::BlockGrads& g) {
  const auto gs = g.tensors();
  std::size_t total = 0;
  for (const auto& t : gs) total += t.size();
  std::vector<float> packed(total);
  std::size_t off = 0;
  for (const auto& t : gs) off = std::copy_n(t.data, t.size(), packed.begin() + off) - packed.begin();
  comm.all_reduce(comm::cbuf(packed), comm::buf(packed), comm::ReduceOp::sum);
  off = 0;
  for (const auto& t : gs) {
    std::copy_n(packed.begin() + off, t.size(), t.data);
    off += t.size();
  }
}

// Copies full-shape weights tensor by tensor (replicated weights' set_weights).
inline void copy_weights(const layers::BlockWeights& src, const layers::BlockWeights& dst) {
  const auto s = src.tensors(), d = dst.tensors();
  for (std::size_t k = 0; k < s.size(); ++k) std::copy_n(s[k].data, s[k].size(), d[k].data);
}

// Copies full-shape gradients tensor by tensor (replicated weights: already full).
inline void copy_grads(const layers::BlockGrads& src, const layers::BlockGrads& dst) {
  const auto s = src.tensors(), d = dst.tensors();
  for (std::size_t k = 0; k < s.size(); ++k) std::copy_n(s[k].data, s[k].size(), d[k].data);
}

}  // namespace ody::strategies::detail
