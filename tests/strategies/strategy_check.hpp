#pragma once
// Shared check of a strategy against the single-rank Block (layers/block.hpp) on the same
// seeded full inputs, which every rank computes itself:
//   y, dx (unsharded) and every weight gradient (gathered to full shape), and the
//   communicator's traffic counters for one forward and one backward == cost() exactly.
//
// Tolerance (derived, not tuned). Both sides are fp32 implementations of the same math on
// the same fp32 inputs; they differ only in how sums are ordered and split (GEMM blocking
// over a local token slice, reductions over ranks, attention tile order); all-to-all,
// gather and scatter are exact copies. The difference of two orderings of a sum of K terms
// is at most 2·γ_K·Σ|terms| with γ_K ≈ K·u (u = 2^-24). By construction (weights of
// variance 1/fan_in, inputs in ±1) every layer keeps values O(1), so Σ|terms| is a small
// multiple of the tensor's magnitude; a block chains a few such layers (norm, projection,
// attention, projection, norm, MLP), each passing errors on with O(1) gain. Hence
//   |strategy - Block| <= kChain · 2 · K · u · max|Block tensor|,
//   K = max(d, i, H·Dh, B·L) (the longest reduction: weight gradients sum over B·L
//   tokens, projections over d, i or H·Dh, attention over L keys), kChain = 4.
// At the test shapes (K <= 96) this is ~5e-5 relative to the tensor's largest element; a
// real bug (wrong head, wrong position, a missing reduction) gives O(1) errors.
//
// bf16 (BlockConfig::precision, layers/precision.hpp): the strategy and the bf16 Block run
// the same model, rounding activations to bf16 (unit roundoff u_b = 2^-8) at the same layer
// outputs. On top of the fp32 ordering differences above, the two differ where (a) a
// rounding falls on the other side of a tie because the fp32 value before it differs in its
// last bits: that element moves by one bf16 ulp = 2·u_b of its magnitude; or (b) one side
// rounds a value the other keeps in fp32 (tensor-parallel partial sums rounded before their
// reduce-scatter, replicated kv-head gradients rounded before they are summed): at most u_b.
// Either is a perturbation of at most 2·u_b relative at one stage, carried on through the
// rest of the chain with O(1) gain, and (unlike fp32 reordering) not multiplied by K: each
// value is rounded once per stage, and a sum of K perturbed O(1) terms is perturbed by at
// most 2·u_b·Σ|terms|, the same multiple of the tensor's magnitude as above. Hence
//   |strategy - Block_bf16| <= kChain · 2 · u_b · max|Block_bf16 tensor| + the fp32 bound,
// about 3 % of the largest element. A second, comparative check keeps it honest in the
// aggregate: the strategy must be about as close to the fp32 Block (same bf16 inputs) as the
// single-rank bf16 Block is, ||strategy - Block_f32||_2 <= 2 · ||Block_bf16 - Block_f32||_2
// (+ the fp32 bound), i.e. no bf16 error of its own beyond the model's. Measured at the test
// shapes: the worst element is at most 0.45 of the first bound. Neither check can tell a
// strategy that ignores bf16 (its fp32 result is within both), so two more do: y and dx
// must be bf16 values, and the traffic must equal the bf16 cost (activations at 2 bytes).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "comm/communicator.hpp"
#include "layers/block.hpp"
#include "strategies/layout.hpp"
#include "strategies/strategy.hpp"

namespace ody::strategies::test {

inline constexpr double kU32 = 1.0 / 16777216.0;
inline constexpr double kUBf16 = 1.0 / 256.0;
inline constexpr double kChain = 4.0;

// The worst |got - ref| (NaN counts as infinite), where, and max |ref|.
struct Worst {
  double err = -1, max_ref = 0;
  std::size_t at = 0;
};
inline Worst worst_error(const float* got, const float* ref, std::size_t n) {
  Worst w;
  for (std::size_t e = 0; e < n; ++e) {
    w.max_ref = std::max(w.max_ref, std::abs(double(ref[e])));
    const double err = std::abs(double(got[e]) - double(ref[e]));
    if (!(err <= w.err)) {
      w.err = std::isnan(err) ? INFINITY : err;
      w.at = e;
    }
  }
  return w;
}

inline void expect_close(const std::string& name, const float* got, const float* ref, std::size_t n,
                         double K) {
  const Worst w = worst_error(got, ref, n);
  const double tol = kChain * 2 * K * kU32 * w.max_ref;
  EXPECT_LE(w.err, tol) << name << ": worst error " << w.err << " at flat index " << w.at
                        << " (got " << got[w.at] << ", single-rank Block " << ref[w.at]
                        << "); tolerance " << tol << " = " << kChain << " x 2 x K " << K
                        << " x u x max|ref| " << w.max_ref;
}

// bf16: the two checks of the header comment. ref: the bf16 Block; exact: the fp32 Block
// on the same (bf16-valued) inputs.
inline void expect_close_bf16(const std::string& name, const float* got, const float* ref,
                              const float* exact, std::size_t n, double K) {
  const Worst w = worst_error(got, ref, n);
  double d_got = 0, d_ref = 0;
  for (std::size_t e = 0; e < n; ++e) {
    d_got += (double(got[e]) - double(exact[e])) * (double(got[e]) - double(exact[e]));
    d_ref += (double(ref[e]) - double(exact[e])) * (double(ref[e]) - double(exact[e]));
  }
  const double f32 = kChain * 2 * K * kU32 * w.max_ref;
  const double tol = kChain * 2 * kUBf16 * w.max_ref + f32;
  EXPECT_LE(w.err, tol) << name << " (bf16): worst error " << w.err << " at flat index " << w.at
                        << " (got " << got[w.at] << ", single-rank bf16 Block " << ref[w.at]
                        << "); tolerance " << tol << " = kChain x 2 x u_bf16 x max|ref| "
                        << w.max_ref << " + fp32 bound";
  const double norm_got = std::sqrt(d_got), norm_ref = std::sqrt(d_ref);
  EXPECT_LE(norm_got, 2 * norm_ref + f32 * std::sqrt(double(n)))
      << name << " (bf16): ||strategy - fp32 Block|| " << norm_got
      << " vs ||bf16 Block - fp32 Block|| " << norm_ref;
}

inline void expect_traffic(const std::string& phase, const comm::TrafficSnapshot& got,
                           const comm::TrafficSnapshot& want) {
  for (int k = 0; k < comm::kNumOpKinds; ++k) {
    const auto kind = static_cast<comm::OpKind>(k);
    EXPECT_EQ(got[kind].ops, want[kind].ops) << phase << " " << comm::to_string(kind) << " ops";
    EXPECT_EQ(got[kind].bytes_sent, want[kind].bytes_sent)
        << phase << " " << comm::to_string(kind) << " sent";
    EXPECT_EQ(got[kind].bytes_recv, want[kind].bytes_recv)
        << phase << " " << comm::to_string(kind) << " recv";
  }
}

// Runs `s` (already constructed over comm) and the single-rank Block on the same inputs.
inline void check_against_block(Strategy& s, std::uint64_t seed = 1234) {
  using namespace layers;
  const BlockConfig c = s.config();
  auto& comm = s.comm();
  const int n = comm.size();
  BlockWeights w(c);
  init_block_weights(w, c, seed);
  const Array3 x = make_block_input(c, seed), dy = make_block_dy(c, seed);
  Block block(c);
  Array3 y_ref("y", c.B, c.L, c.d), dx_ref("dx", c.B, c.L, c.d);
  BlockGrads g_ref(c);
  block.forward(y_ref, x, w);
  block.backward(dx_ref, g_ref, dy, w);

  const std::int64_t Ll = c.L / n;
  Array3 xl("xl", c.B, Ll, c.d), dyl("dyl", c.B, Ll, c.d), yl("yl", c.B, Ll, c.d),
      dxl("dxl", c.B, Ll, c.d);
  // The layout slot is the rank's logical mesh index (layout_rank() == comm().rank(),
  // which differs from the world rank under a placement).
  EXPECT_EQ(s.layout_rank(), comm.rank());
  shard(s.layout(), x.data(), xl.data(), c.B, c.L, c.d, n, s.layout_rank(), c.doc_starts);
  shard(s.layout(), dy.data(), dyl.data(), c.B, c.L, c.d, n, s.layout_rank(), c.doc_starts);
  s.set_weights(w);
  const Cost cost = s.cost();
  s.reset_traffic();  // every communicator of the strategy (hybrids: mesh dimensions too)
  // Each communicator's own counters against its part of cost() (Cost::by_dim; one part,
  // comm(), for one-dimensional strategies).
  auto parts = [&] {
    std::map<std::string, comm::TrafficSnapshot> got;
    if (cost.by_dim.empty()) return got;
    got["world"] = comm.traffic();
    for (const auto& d : s.mesh_dims()) got[d.name] = s.mesh_comm(d.name).traffic();
    return got;
  };
  auto expect_parts = [&](const char* phase, bool fwd) {
    const auto got = parts();
    EXPECT_EQ(got.size(), cost.by_dim.size()) << phase << ": parts of cost()";
    for (const auto& [dim, part] : cost.by_dim) {
      ASSERT_TRUE(got.count(dim)) << phase << ": cost() part '" << dim << "' names no communicator";
      expect_traffic(std::string(phase) + " on " + dim, got.at(dim),
                     fwd ? part.forward : part.backward);
    }
  };
  s.forward(yl, xl);
  expect_traffic("forward", s.traffic(), cost.forward);
  expect_parts("forward", true);
  s.reset_traffic();
  s.backward(dxl, dyl);
  expect_traffic("backward", s.traffic(), cost.backward);
  expect_parts("backward", false);

  Array3 y("y", c.B, c.L, c.d), dx("dx", c.B, c.L, c.d);
  unshard(s.layout(), yl.data(), y.data(), c.B, c.L, c.d, comm, c.doc_starts);
  unshard(s.layout(), dxl.data(), dx.data(), c.B, c.L, c.d, comm, c.doc_starts);
  BlockGrads g(c);
  s.gather_grads(g);
  const double K = double(std::max({c.d, c.ffn, c.H * c.head_dim(), c.B * c.L}));
  const auto gt = g.tensors(), rt = g_ref.tensors();
  if (c.precision == layers::Precision::bf16) {
    BlockConfig c32 = c;
    c32.precision = layers::Precision::f32;
    Block exact(c32);
    Array3 y32("y32", c.B, c.L, c.d), dx32("dx32", c.B, c.L, c.d);
    BlockGrads g32(c32);
    exact.forward(y32, x, w);
    exact.backward(dx32, g32, dy, w);
    // The strategy really computes in bf16: its outputs are bf16 values (rounded by the
    // layers under its precision scope), as the Block's are.
    for (const auto* t : {&y, &dx}) {
      std::size_t off = 0;
      for (std::size_t e = 0; e < t->size(); ++e)
        off += layers::round_to_bf16(t->data()[e]) != t->data()[e];
      EXPECT_EQ(off, 0u) << (t == &y ? "y" : "dx") << ": values that are not bf16";
    }
    expect_close_bf16("y", y.data(), y_ref.data(), y32.data(), y.size(), K);
    expect_close_bf16("dx", dx.data(), dx_ref.data(), dx32.data(), dx.size(), K);
    const auto et = g32.tensors();
    for (std::size_t k = 0; k < gt.size(); ++k)
      expect_close_bf16(gt[k].name, gt[k].data, rt[k].data, et[k].data, gt[k].size(), K);
    return;
  }
  expect_close("y", y.data(), y_ref.data(), y.size(), K);
  expect_close("dx", dx.data(), dx_ref.data(), dx.size(), K);
  for (std::size_t k = 0; k < gt.size(); ++k)
    expect_close(gt[k].name, gt[k].data, rt[k].data, gt[k].size(), K);
}

// The sweep every strategy runs: G = H, H/2, 1; causal and not; shapes small for CI.
struct Shape {
  std::int64_t B, L, d, H, G, i;
  bool causal;
};
inline std::vector<Shape> sweep() {
  std::vector<Shape> v;
  for (bool causal : {true, false})
    for (std::int64_t G : {4, 2, 1}) v.push_back({1, 24, 32, 4, G, 48, causal});
  for (bool causal : {true, false})
    for (std::int64_t G : {6, 3, 1}) v.push_back({1, 24, 48, 6, G, 72, causal});  // N = 3
  v.push_back({2, 24, 32, 4, 2, 64, true});                                       // B > 1
  return v;
}

inline std::string shape_name(const Shape& p) {
  return "B" + std::to_string(p.B) + " L" + std::to_string(p.L) + " d" + std::to_string(p.d) +
         " H" + std::to_string(p.H) + " G" + std::to_string(p.G) + " i" + std::to_string(p.i) +
         (p.causal ? " causal" : " full");
}

}  // namespace ody::strategies::test
