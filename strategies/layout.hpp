#pragma once
// The shared rank arithmetic of every strategy: which global tokens a rank holds, which
// heads it holds when heads are sharded, and its neighbours on a ring.
//
//   contiguous  rank r holds tokens [r·L/N, (r+1)·L/N)                  needs L % N == 0
//   zigzag      L in 2N chunks of c = L/(2N); rank r holds chunk r then chunk 2N-1-r
//               (balances causal work)                                needs L % (2N) == 0
//   stripe      token t on rank t mod N; local token j is t = j·N + r  needs L % N == 0
//   per_doc     zigzag inside every document of a packed sequence (BlockConfig::doc_starts):
//               each document in 2N chunks, rank r holds chunks r and 2N-1-r of each, in
//               document order (balances causal work per document: docs/algorithms.md 7)
//                                                  needs every length % (2N) == 0
//               (no documents: one document, the zigzag layout)
//
// Local tokens are stored in the order listed (ascending local index j). Every tensor is
// [B, L, w] (w = any row width), sharded along L only; every batch row uses the same
// positions. Shard/unshard are pure copies (bitwise exact).
#include <algorithm>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "comm/communicator.hpp"

namespace ody::strategies {

enum class TokenLayout { contiguous, zigzag, stripe, per_doc };
std::string_view to_string(TokenLayout layout);

// The number of equal pieces L (per_doc: each document) must split into: N, or 2N for
// zigzag and per_doc.
std::int64_t layout_divisor(TokenLayout layout, int n);
// Throws ody::Error at `where` when L cannot be laid out over N ranks, naming the rule,
// the values and the nearest valid lengths, e.g. "L % (2N) == 0 (zigzag: 2N chunks),
// N = 4, nearest valid L: 24 or 32; found L = 30".
// docs: the document starts of a packed sequence (only per_doc uses them; for per_doc the
// error names the first document whose length breaks the rule and its nearest valid lengths).
void check_layout(TokenLayout layout, std::int64_t L, int n, const char* where,
                  std::span<const std::int64_t> docs = {});
// Throws ody::Error at `where` when `value` % n != 0, naming the rule and the nearest
// valid values of `name` (e.g. heads when sharding heads over N ranks).
void check_divisible(const char* where, const char* name, std::int64_t value,
                     const char* divisor_name, std::int64_t divisor);

// Global positions [L/N] of rank r's local tokens, in local order.
std::vector<std::int64_t> local_positions(TokenLayout layout, std::int64_t L, int n, int r,
                                          std::span<const std::int64_t> docs = {});

// local [B, L/N, w] = rank r's tokens of full [B, L, w].
void shard(TokenLayout layout, const float* full, float* local, std::int64_t B, std::int64_t L,
           std::int64_t w, int n, int r, std::span<const std::int64_t> docs = {});
// full [B, L, w] on every rank from each rank's local [B, L/N, w] (one all_gather of
// B·L/N·w floats over `comm`, then a local permutation). Collective.
void unshard(TokenLayout layout, const float* local, float* full, std::int64_t B, std::int64_t L,
             std::int64_t w, comm::Communicator& comm, std::span<const std::int64_t> docs = {});

// Heads sharded over n ranks: rank j gets [head_start(j), head_start(j) + heads_per_rank).
// With heads < n (kv heads under GQA, n % heads == 0) each rank gets the one kv head its
// query heads read, so kv heads are replicated n / heads times.
inline std::int64_t heads_per_rank(std::int64_t heads, int n) {
  return std::max<std::int64_t>(heads / n, 1);
}
inline std::int64_t head_start(std::int64_t heads, int n, int j) {
  return std::int64_t(j) * heads / n;
}

// A ring of n ranks passing blocks to the next rank: rank r sends to ring_next, receives
// from ring_prev, and at step s (0 = its own) holds the block that started on ring_source.
inline int ring_next(int r, int n) { return (r + 1) % n; }
inline int ring_prev(int r, int n) { return (r - 1 + n) % n; }
inline int ring_source(int r, int s, int n) { return (r - s % n + n) % n; }

}  // namespace ody::strategies
