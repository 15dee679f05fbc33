#pragma once
// TokenRing (docs/algorithms.md 6.3): the context-parallel block (context_parallel.hpp)
// whose attention keeps every rank's k/v at home and sends the QUERIES round instead,
// with the partial results coming straight back: q goes one way and partials the other,
// so both directions of every link carry data at once.
// Layout: zigzag when causal (2N chunks), contiguous otherwise; any layout may be asked for.
//
// Forward: step 0 is the rank's own q against its own k/v. At step s = 1..N-1 rank r
// sends its q (wire precision) to r+s and receives the q of r-s, computes that q's
// partial (out, lse) against its own k/v (fp32; the zigzag half-block selection of
// ring_attention.hpp's block_part), and sends the partial straight back to r-s, which
// merges it (kernels/attention_merge.hpp). The exchange of step s+1's queries is posted
// before step s's compute, and the partials of step s travel during step s+1's.
// Backward, in the same spirit: the q-side tensors of a block (q in the wire precision;
// dout, out and lse in fp32: the kernel forms the row sums of dout·out itself) go to the
// k/v owner, which accumulates its own dk/dv locally and returns the fp32 dq partial to
// the q owner, which adds it.
// Traffic per rank and step (nq = B·(L/N)·H·Dh, nl = B·H·(L/N); e = the wire size):
// forward: q (nq·e) out and in, partial ((nq + nl)·4) out and in; backward: q (nq·e),
// dout/out/lse ((2·nq + nl)·4) and dq (nq·4), each out and in. N-1 steps; nothing at N = 1.
// The ring sends 2·B·(L/N)·G·Dh (k/v) per step instead: TokenRing sends more when G < H/2
// (GQA) and pays off for full multi-head attention on full-duplex links. Whole partials
// travel even where the zigzag selection computed only half of the rows (the empty half
// merges as a no-op): sending only the computed rows would save about a quarter of the
// forward bytes (not done).
#include <memory>
#include <vector>

#include "strategies/context_parallel.hpp"

namespace ody::strategies {

class TokenRing final : public ContextParallel {
 public:
  TokenRing(const BlockConfig& cfg, comm::Communicator& comm,
            WeightMode mode = WeightMode::replicated);
  TokenRing(const BlockConfig& cfg, comm::Communicator& comm, WeightMode mode, TokenLayout layout);
  std::string_view name() const override { return "token-ring"; }
  std::vector<MeshDim> mesh_dims() const override { return {{"ring", comm_->size()}}; }
  Cost cost() const override {
    return cost(cfg_, comm_->size(), comm_->rank(), layout(), weight_mode());
  }
  static Cost cost(const BlockConfig& cfg, int n, int rank, TokenLayout layout,
                   WeightMode mode = WeightMode::replicated);
  static void check(const BlockConfig& cfg, int n, TokenLayout layout);
};

}  // namespace ody::strategies
