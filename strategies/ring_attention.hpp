#pragma once
// The ring-attention core (docs/algorithms.md 3.3) shared by Ring (ring.hpp), USP
// (usp.hpp) and Odysseus x Ring (odysseus_ring.hpp): attention of this rank's query rows
// against the key/value rows of every rank of a ring of R ranks, with k/v blocks passed
// round the ring.
//
// Every ring rank holds a block of Lb rows: q [B, Lb, hq, Dh] and k, v [B, Lb, hk, Dh]
// (packed k then v in one buffer), and `block_pos[j]` lists the global positions of ring
// rank j's rows (any order; the kernel masks by global position).
//
// Forward: R steps. At step s the rank holds the block of src = (rho - s) mod R. It POSTS
// the exchange of that block (send to rho+1, receive the next from rho-1 into a second
// buffer, batch_p2p_async, tag 1) BEFORE computing attention of its queries against the
// block, merging into fp32 (out, lse) with the kernel's accumulate mode, then waits and
// swaps (double buffering).
// Balanced (zigzag) mode: when every block's first half holds ring chunk j and its second
// half ring chunk 2R-1-j (chunks of L/(2R) positions, j = the block's ring rank) and
// attention is causal, every step after the first costs the same on every rank: src < rho
// -> all local q against the block's FIRST half; src > rho -> the SECOND half of local q
// against the whole block (the rest is masked). Otherwise each step computes whole blocks.
// Backward: k/v travel the ring again; the fp32 dk/dv accumulators of each block travel
// with it on a second ring (tag 2) and after R hops arrive back at their owner; dq
// accumulates locally. Backward uses the final out and lse.
// Shape::bf16_wire (Precision::bf16): q and the k/v blocks are held and sent as bf16 (the
// kernel's bf16-input form, exact for bf16 values) while out, lse and the dk/dv
// accumulators stay fp32 (docs/algorithms.md: ring partials in fp32).
#include <cstdint>
#include <vector>

#include "comm/communicator.hpp"
#include "layers/block.hpp"
#include "strategies/attention_core.hpp"
#include "strategies/layout.hpp"
#include "strategies/strategy.hpp"

namespace ody::strategies {

// The rows of a hybrid's ring blocks. N = I·R ranks, logical index m = s + I·rho (s: the
// coordinate in the inner group of I consecutive indices: ulysses or tp; rho: the ring
// coordinate); tokens laid out over the N logical indices with `layout`. Inner group rho
// gathers its members' L/N tokens into one block of I·L/N rows:
//   map[s·Ll + j]    the block row of member s's local token j (Ll = L/N);
//   block_pos[rho]   the global positions of group rho's block rows.
// Plain: member s's tokens at rows [s·Ll, (s+1)·Ll). Balanced (zigzag layout): the world
// zigzag with ring as the outer dimension gives group rho exactly ring chunks rho and
// 2R-1-rho (chunks of L/(2R)): member s holds world chunks rho·I+s and 2N-1-rho·I-s, so the
// members' first halves are put first (rows s·c .. s·c+c-1, c = Ll/2) and their second
// halves after them (rows I·c + s·c ...). That block layout is what RingAttention's
// balanced mode needs; group_rows checks it (ody::Error otherwise).
struct GroupRows {
  std::vector<std::int64_t> map;
  std::vector<std::vector<Pos>> block_pos;
};
GroupRows group_rows(TokenLayout layout, std::int64_t L, int inner, int ring, bool balanced,
                     std::span<const Pos> docs = {});

// The rows of this rank's queries against the rows of source block `src` that a causal
// zigzag (balanced) step computes, blocks of Lb rows (first half ring chunk j, second half
// chunk 2R-1-j, j = the block's ring rank): src == self or not balanced -> everything;
// src < self -> all queries against the block's FIRST half; src > self -> the SECOND half
// of the queries against the whole block (the rest is masked).
struct BlockPart {  // query rows [q0, q0 + lq) against block rows [k0, k0 + lk)
  std::int64_t q0, lq, k0, lk;
};
inline BlockPart block_part(int src, int self, std::int64_t Lb, bool balanced) {
  const std::int64_t c = Lb / 2;
  if (!balanced || src == self) return {0, Lb, 0, Lb};
  if (src < self) return {0, Lb, 0, c};
  return {c, c, 0, Lb};
}

class RingAttention final : public AttentionCore {
 public:
  struct Shape {
    std::int64_t B, Lb, hq, hk, Dh;
    bool bf16_wire = false;
  };
  // doc_starts: a packed sequence's documents (BlockConfig::doc_starts; empty: one).
  RingAttention(comm::Communicator& ring, Shape shape, bool causal,
                std::vector<std::vector<Pos>> block_pos, bool balanced,
                std::vector<Pos> doc_starts = {});
  // o [B, Lb, hq, Dh], lse [B, hq, Lb] (fp32, overwritten); kv: k then v [B, Lb, hk, Dh].
  void forward(float* o, float* lse, const float* q, const float* kv) override;
  // dq [B, Lb, hq, Dh] and dkv (dk then dv, [B, Lb, hk, Dh] each) of this rank's own rows,
  // both overwritten, from dout and the forward's q, kv, o, lse.
  void backward(float* dq, float* dkv, const float* dout, const float* q, const float* kv,
                const float* o, const float* lse) override;
  // One block's step, for schedules of their own (double_ring.hpp): attention of this
  // rank's queries (q, into o and lse, merged) against the block of ring rank `src` (blk:
  // its k then v, in the wire type W = float or bf16), with the balanced half selection;
  // and its backward (dq and the block's dkv added to).
  template <class W>
  void attend(float* o, float* lse, const W* q, const W* blk, int src) const;
  template <class W>
  void attend_backward(float* dq, float* dkv, const float* dout, const W* q, const W* blk,
                       const float* o, const float* lse, int src) const;
  // This rank's block rows' global positions.
  const std::vector<Pos>& rows() const { return block_pos_[ring_->rank()]; }
  // One forward: R-1 sends and receives of the k/v block; one backward: the same plus R
  // fp32 dk/dv hops (R > 1). Elements per block: 2·B·Lb·hk·Dh, of kv_esize bytes (2 when
  // bf16_wire) on the k/v ring and 4 on the accumulator ring.
  static void add_cost(Cost& cost, std::int64_t B, std::int64_t Lb, std::int64_t hk,
                       std::int64_t Dh, int R, std::size_t kv_esize = 4);
  // The peak model's steps (MemoryWalk): what forward() / backward() allocate and free
  // before returning: the current and next k/v blocks (wire type), the bf16 copy of q
  // (bf16 wire), backward's two fp32 dk/dv accumulators, and the kernel's scratch for a
  // whole block (the largest step). The block_pos the constructor keeps: block_pos_bytes.
  static void walk_forward(MemoryWalk& m, const Shape& s);
  static void walk_backward(MemoryWalk& m, const Shape& s);
  static std::uint64_t block_pos_bytes(const Shape& s, int R) {
    return std::uint64_t(R * s.Lb) * sizeof(Pos);
  }

 private:
  template <class W>
  void forward_impl(float* o, float* lse, const float* q, const float* kv);
  template <class W>
  void backward_impl(float* dq, float* dkv, const float* dout, const float* q, const float* kv,
                     const float* o, const float* lse);
  kernels::AttentionOptions options() const;  // causal, documents, accumulate
  BlockPart part(int src) const { return block_part(src, ring_->rank(), sh_.Lb, balanced_); }

  comm::Communicator* ring_;
  Shape sh_;
  bool causal_, balanced_;
  std::vector<std::vector<Pos>> block_pos_;
  std::vector<Pos> doc_starts_;
};

}  // namespace ody::strategies
