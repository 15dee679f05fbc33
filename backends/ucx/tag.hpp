#pragma once
// The 64-bit UCP tag of every message the UCX backend sends. Receives match all 64 bits
// (tag_mask = ~0), so a message is matched by exactly (kind, communicator, source rank,
// payload); UCP keeps the order of messages with equal tags from one endpoint, so equal
// tags are matched in issue order.
//
//   bit  63       kind: 0 = point-to-point, 1 = collective
//   bits 52..62   communicator id (11 bits; agreed at creation, distinct among the
//                 communicators a process holds at once, modulo 2048)
//   bits 32..51   source rank in the communicator (20 bits: at most 2^20 ranks)
//   bits  0..31   payload
//     point-to-point: the user tag, 0..kMaxP2PTag (20 bits)
//                     (payload bit 31 set, comm id 0: the worker's setup handshake,
//                     worker.cpp; no user tag reaches bit 31)
//     collective:     bits 30..31 collective tag (0..kCollectiveTags-1),
//                     bits  8..29 sequence number of the collective on that tag (22 bits,
//                             wraps; each (communicator, tag) counts its own issues),
//                     bits  0..7  step of the algorithm (wraps; steps of one collective
//                             between one pair of ranks are sequential)
#include <cstdint>

#include "comm/communicator.hpp"

namespace ody::backends::ucx::tag {

inline constexpr int kCommBits = 11, kRankBits = 20, kSeqBits = 22, kStepBits = 8;
inline constexpr std::uint64_t kCommMask = (1ull << kCommBits) - 1;
inline constexpr std::uint64_t kRankMask = (1ull << kRankBits) - 1;
inline constexpr std::uint64_t kSeqMask = (1ull << kSeqBits) - 1;
inline constexpr std::uint64_t kStepMask = (1ull << kStepBits) - 1;
inline constexpr int kMaxRanks = 1 << kRankBits;
inline constexpr std::uint64_t kMatchAll = ~0ull;

static_assert(comm::kCollectiveTags <= 4, "the collective tag has 2 bits");
static_assert(comm::kMaxP2PTag < (1 << 30), "the user tag must fit the payload");

struct Fields {
  bool collective = false;
  std::uint32_t comm_id = 0;
  std::uint32_t source = 0;
  // point-to-point
  std::uint32_t user_tag = 0;
  // collective
  std::uint32_t coll_tag = 0, seq = 0, step = 0;
  bool operator==(const Fields&) const = default;
};

constexpr std::uint64_t header(bool collective, std::uint64_t comm_id, std::uint64_t source) {
  return (collective ? 1ull << 63 : 0ull) | ((comm_id & kCommMask) << 52) |
         ((source & kRankMask) << 32);
}

constexpr std::uint64_t p2p(std::uint64_t comm_id, std::uint64_t source, std::uint64_t user_tag) {
  return header(false, comm_id, source) | (user_tag & 0xffffffffull);
}

constexpr std::uint64_t collective(std::uint64_t comm_id, std::uint64_t source,
                                   std::uint64_t coll_tag, std::uint64_t seq, std::uint64_t step) {
  return header(true, comm_id, source) | ((coll_tag & 3ull) << 30) | ((seq & kSeqMask) << 8) |
         (step & kStepMask);
}

constexpr Fields decode(std::uint64_t t) {
  Fields f;
  f.collective = (t >> 63) != 0;
  f.comm_id = static_cast<std::uint32_t>((t >> 52) & kCommMask);
  f.source = static_cast<std::uint32_t>((t >> 32) & kRankMask);
  const auto payload = static_cast<std::uint32_t>(t & 0xffffffffull);
  if (f.collective) {
    f.coll_tag = payload >> 30;
    f.seq = (payload >> 8) & static_cast<std::uint32_t>(kSeqMask);
    f.step = payload & static_cast<std::uint32_t>(kStepMask);
  } else {
    f.user_tag = payload;
  }
  return f;
}

}  // namespace ody::backends::ucx::tag
