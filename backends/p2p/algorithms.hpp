#pragma once
// Collectives over point-to-point messages, as schedules (schedule.hpp): what the UCX
// backend runs, and the plugin host for a plugin that leaves a collective entry NULL.
// p ranks, r this rank, next = r+1, prev = r-1 (mod p). Empty blocks are not sent (both
// sides know every size), except barrier's zero-byte tokens.
//
// - all_gather(_v): ring, p-1 steps; step s sends block r-s to next and receives block
//   r-s-1 from prev, directly in recv. Step 0 sends the own block from the send buffer;
//   it is copied into recv once all steps completed.
// - reduce_scatter: ring, p-1 steps; step s sends the partial sum of block r-s-1 (at
//   step 0 the rank's own input) and receives the partial sum of block r-s-2, which it
//   combines with its input; after the last step block r is complete. Partial sums
//   alternate between two scratch blocks; the last lands in recv. Each block is received
//   directly into its destination and combined there with the input block
//   (combine.hpp: MPI_Reduce_local, vectorised), in 512 KiB chunks reduced as each
//   arrives; only in place, where destination and input block coincide, does a block
//   go through a scratch block.
// - all_reduce: reduce-scatter over an element-balanced partition (block j has
//   n/p + (j < n mod p) elements), accumulating in recv, then the ring all-gather of
//   those blocks; avg divides the own block between the two.
// - all_to_all(_v): pairwise exchange, all p-1 pairs posted in one step (to r+s, from
//   r-s for s = 1..p-1); the own block is copied locally once they completed; in place
//   sends from a copy.
// - broadcast: binomial tree rooted at root (receive from the parent, then send to every
//   child in one step).
// - barrier: dissemination, ceil(log2 p) rounds of zero-byte messages to r+2^k from r-2^k.
//
// Tags: Xfer::tag is the step id (collectives; the same on sender and receiver) or the
// user tag (point_to_point). Within one schedule, the messages between two ranks in one
// direction are posted in the same order on both sides, so a transport that matches by
// (peer, tag) in posting order may carry a whole collective on one tag (the plugin host).
//
// Traffic (counts_own_traffic): a backend may count exactly the bytes of the schedule's
// messages (Schedule::bytes_sent/bytes_recv); docs/backends.md gives the closed forms.
#include <cstdint>
#include <span>

#include "backends/p2p/schedule.hpp"
#include "comm/buffer.hpp"
#include "comm/communicator.hpp"

namespace ody::backends::p2p::algorithms {

Schedule all_gather(comm::ConstBuf send, comm::Buf recv, int r, int p);
Schedule all_gather_v(comm::ConstBuf send, comm::Buf recv, std::span<const std::int64_t> counts,
                      int r, int p);
Schedule reduce_scatter(comm::ConstBuf send, comm::Buf recv, comm::ReduceOp op, int r, int p);
Schedule all_reduce(comm::ConstBuf send, comm::Buf recv, comm::ReduceOp op, int r, int p);
Schedule all_to_all(comm::ConstBuf send, comm::Buf recv, int r, int p);
Schedule all_to_all_v(comm::ConstBuf send, std::span<const std::int64_t> send_counts,
                      comm::Buf recv, std::span<const std::int64_t> recv_counts, int r, int p);
Schedule broadcast(comm::Buf buffer, int root, int r, int p);
Schedule barrier(int r, int p);
// Receives and sends of a batch, all in one step, tags = user tags.
Schedule point_to_point(std::span<const comm::P2POp> ops);

}  // namespace ody::backends::p2p::algorithms
