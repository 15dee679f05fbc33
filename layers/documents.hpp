#pragma once
// Packed sequences (docs/algorithms.md 7): one sequence of L tokens holding several
// documents, given by their start positions (BlockConfig::doc_starts: strictly ascending,
// the first 0; empty = one document). Attention stays inside a document (the kernel's
// AttentionOptions::doc_starts) and RoPE positions restart at 0 at each document's start
// (rope_positions below); everything else in the block is per token and unchanged.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "kernels/attention.hpp"
#include "layers/views.hpp"

namespace ody::layers {

// Document lengths (each >= 1) -> start positions [0, l0, l0 + l1, ...].
std::vector<Pos> doc_starts_of(std::span<const std::int64_t> lens);
// Start positions and L -> lengths.
std::vector<std::int64_t> doc_lens_of(std::span<const Pos> starts, std::int64_t L);
// The start of the document holding global position p (0 when there are no documents).
Pos doc_start(std::span<const Pos> starts, Pos p);
// out[j] = pos[j] - doc_start(pos[j]): the positions RoPE rotates by (out may alias pos).
void rope_positions(std::span<const Pos> starts, const Pos* pos, std::int64_t n, Pos* out);
// The kernel's view of the documents (AttentionOptions::doc_starts, num_docs): `starts` must
// outlive every use of `o`.
inline void set_documents(kernels::AttentionOptions& o, std::span<const Pos> starts) {
  o.doc_starts = starts.empty() ? nullptr : starts.data();
  o.num_docs = std::int64_t(starts.size());
}
// "a,b,c" (positive lengths summing to L) or "random:SEED[:MEAN[:MULTIPLE]]": a seeded
// long-tail draw of lengths summing to L (log-normal, sigma 1, mean MEAN tokens, default
// L/8; every length a multiple of MULTIPLE, default 1, e.g. 2N for the per-doc layout; the
// last one cut to fit). Throws ody::Error naming `what` and the rule.
std::vector<std::int64_t> parse_doc_lens(const std::string& text, std::int64_t L,
                                         const std::string& what = "--doc-lens");

}  // namespace ody::layers
