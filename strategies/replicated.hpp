#pragma once
// Replicated weights: every rank holds every weight; set_weights copies, the gradients are
// summed over the group in one all-reduce, gather_grads copies.
#include <algorithm>
#include <vector>

#include "comm/communicator.hpp"
#include "layers/block.hpp"

namespace ody::strategies::detail {

// Replicated weights: sums every weight gradient over the group, all nine packed into one
// buffer so that it is a single all-reduce (what the strategies' cost() charges).
inline void all_reduce_replicated_grads(comm::Communicator& comm, const layers::BlockGrads& g) {
  const auto gs = g.tensors();
  std::size_t total = 0;
  for (const auto& t : gs) total += t.size();
  std::vector<float> packed(total);
  std::size_t off = 0;
  for (const auto& t : gs)
    off = std::copy_n(t.data, t.size(), packed.begin() + off) - packed.begin();
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
