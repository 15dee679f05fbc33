#pragma once
// The sequence <-> head all-to-all of Ulysses and USP: [B, L/N, heads, Dh] sequence-sharded
// tensors to [B, L, heads/N, Dh] head-sharded ones and back, over the wire type W (wire.hpp).
#include <cstdint>
#include <type_traits>
#include <vector>

#include "comm/communicator.hpp"
#include "strategies/layout.hpp"
#include "strategies/wire.hpp"

namespace ody::strategies::detail {

using Z = std::int64_t;

// src [B, Ll, heads, Dh] (sequence-sharded) -> dst [B, L, c, Dh] (head-sharded, sequence in
// rank order), c = heads_per_rank. send/recv: scratch of B·Ll·c·Dh·n elements of the wire
// type W (float, or bf16: wire.hpp), converted on packing and unpacking. in_place: with a
// float wire and B = 1 the received blocks in rank order are dst [L, c, Dh] itself, so they
// are received there (recv stays empty and seq_to_head_finish has nothing to do).
template <class W>
comm::WorkPtr seq_to_head_post(comm::Communicator& comm, const float* src, std::vector<W>& send,
                               std::vector<W>& recv, Z B, Z Ll, Z heads, Z Dh, comm::Tag tag,
                               float* in_place = nullptr) {
  const int n = comm.size();
  const Z c = heads_per_rank(heads, n), blk = B * Ll * c * Dh;
  send.resize(blk * n);
  for (int j = 0; j < n; ++j) {
    const Z h0 = head_start(heads, n, j);
    for (Z t = 0; t < B * Ll; ++t)
      convert_n(src + (t * heads + h0) * Dh, c * Dh, send.data() + j * blk + t * c * Dh);
  }
  if constexpr (std::is_same_v<W, float>) {
    if (in_place && B == 1)
      return comm.all_to_all_async(comm::cbuf(send), comm::buf(in_place, blk * n), tag);
  }
  recv.resize(blk * n);
  return comm.all_to_all_async(comm::cbuf(send), comm::buf(recv), tag);
}
// seq_map (optional, [n·Ll]): rank s's local token j lands at sequence index
// seq_map[s·Ll + j] instead of s·Ll + j (USP's zigzag regrouping, usp.hpp).
template <class W>
void seq_to_head_finish(const std::vector<W>& recv, float* dst, int n, Z B, Z Ll, Z heads, Z Dh,
                        const Z* seq_map = nullptr) {
  const Z c = heads_per_rank(heads, n), blk = B * Ll * c * Dh, L = Ll * n;
  if (recv.empty()) return;  // received in place (or nothing to receive)
  if (seq_map) {
    for (int s = 0; s < n; ++s)
      for (Z b = 0; b < B; ++b)
        for (Z j = 0; j < Ll; ++j)
          convert_n(recv.data() + s * blk + (b * Ll + j) * c * Dh, c * Dh,
                    dst + (b * L + seq_map[s * Ll + j]) * c * Dh);
    return;
  }
  for (int s = 0; s < n; ++s)
    for (Z b = 0; b < B; ++b)
      convert_n(recv.data() + s * blk + b * Ll * c * Dh, Ll * c * Dh,
                dst + (b * L + s * Ll) * c * Dh);
}

// Inverse: src [B, L, c, Dh] (head-sharded) -> dst [B, Ll, heads, Dh]. accumulate: dst +=
// (replicated kv heads' gradients sum into their one source head; dst must be zeroed).
// seq_map: as seq_to_head_finish (the inverse permutation is applied). send_from_src: with a
// float wire, B = 1 and no seq_map, src is the send buffer itself (it must then stay alive
// and unchanged until the exchange is finished; send stays empty).
template <class W>
comm::WorkPtr head_to_seq_post(comm::Communicator& comm, const float* src, std::vector<W>& send,
                               std::vector<W>& recv, Z B, Z Ll, Z heads, Z Dh, comm::Tag tag,
                               const Z* seq_map = nullptr, bool send_from_src = false) {
  const int n = comm.size();
  const Z c = heads_per_rank(heads, n), blk = B * Ll * c * Dh, L = Ll * n;
  recv.resize(blk * n);
  if constexpr (std::is_same_v<W, float>) {
    if (send_from_src && B == 1 && !seq_map)
      return comm.all_to_all_async(comm::cbuf(src, blk * n), comm::buf(recv), tag);
  }
  send.resize(blk * n);
  if (seq_map) {
    for (int s = 0; s < n; ++s)
      for (Z b = 0; b < B; ++b)
        for (Z j = 0; j < Ll; ++j)
          convert_n(src + (b * L + seq_map[s * Ll + j]) * c * Dh, c * Dh,
                    send.data() + s * blk + (b * Ll + j) * c * Dh);
    return comm.all_to_all_async(comm::cbuf(send), comm::buf(recv), tag);
  }
  for (int j = 0; j < n; ++j)
    for (Z b = 0; b < B; ++b)
      convert_n(src + (b * L + j * Ll) * c * Dh, Ll * c * Dh,
                send.data() + j * blk + b * Ll * c * Dh);
  return comm.all_to_all_async(comm::cbuf(send), comm::buf(recv), tag);
}
template <class W>
void head_to_seq_finish(const std::vector<W>& recv, float* dst, int n, Z B, Z Ll, Z heads, Z Dh,
                        bool accumulate) {
  const Z c = heads_per_rank(heads, n), blk = B * Ll * c * Dh;
  if (accumulate) {
    for (int s = 0; s < n; ++s) {
      const Z h0 = head_start(heads, n, s);
      for (Z t = 0; t < B * Ll; ++t)
        for (Z e = 0; e < c * Dh; ++e)
          dst[(t * heads + h0) * Dh + e] += widen(recv[s * blk + t * c * Dh + e]);
    }
    return;
  }
  for (int s = 0; s < n; ++s) {
    const Z h0 = head_start(heads, n, s);
    for (Z t = 0; t < B * Ll; ++t)
      convert_n(recv.data() + s * blk + t * c * Dh, c * Dh, dst + (t * heads + h0) * Dh);
  }
}

// Exchange buffers that live only while the exchange is in flight: wait, free send, unpack,
// free recv (Ulysses' memory plan; USP keeps its buffers between passes instead).
template <class W>
void seq_to_head_finish_free(const comm::WorkPtr& w, float* dst, std::vector<W>& send,
                             std::vector<W>& recv, int n, Z B, Z Ll, Z heads, Z Dh) {
  w->wait();
  std::vector<W>().swap(send);
  seq_to_head_finish(recv, dst, n, B, Ll, heads, Dh);
  std::vector<W>().swap(recv);
}
template <class W>
void head_to_seq_finish_free(const comm::WorkPtr& w, float* dst, std::vector<W>& send,
                             std::vector<W>& recv, int n, Z B, Z Ll, Z heads, Z Dh,
                             bool accumulate) {
  w->wait();
  std::vector<W>().swap(send);
  head_to_seq_finish(recv, dst, n, B, Ll, heads, Dh, accumulate);
  std::vector<W>().swap(recv);
}

}  // namespace ody::strategies::detail
