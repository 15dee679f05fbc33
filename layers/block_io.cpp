#include "layers/block_io.hpp"

#include "base/error.hpp"
#include "layers/npy.hpp"

namespace ody::layers {

namespace fs = std::filesystem;

namespace {

std::vector<std::size_t> btd(const BlockConfig& c) {
  return {std::size_t(c.B), std::size_t(c.L), std::size_t(c.d)};
}

void save3(const fs::path& p, Span3<const float> v) {
  write_npy(p, v.data(), {v.extent(0), v.extent(1), v.extent(2)});
}

void save_set(const fs::path& dir, const std::vector<TensorRef>& ts) {
  for (const auto& t : ts) write_npy(dir / (t.name + ".npy"), t.data, t.shape);
}

void load_set(const fs::path& dir, const std::vector<TensorRef>& ts) {
  for (const auto& t : ts) read_npy(dir / (t.name + ".npy"), t.shape, t.data);
}

}  // namespace

BlockConfig infer_block_config(const fs::path& dir, std::int64_t H, bool causal) {
  const auto x = npy_shape(dir / "x.npy");
  ODY_REQUIRE(x.size() == 3, (dir / "x.npy").string(), "a [B, L, d] array", x.size(),
              " dimensions");
  const auto wk = npy_shape(dir / "wk.npy");
  const auto wg = npy_shape(dir / "w_gate.npy");
  ODY_REQUIRE(wk.size() == 2 && wg.size() == 2, dir.string(), "2-D wk.npy and w_gate.npy",
              wk.size(), " and ", wg.size(), " dimensions");
  ODY_REQUIRE(H > 0 && std::int64_t(x[2]) % H == 0, "infer_block_config: H",
              "a divisor of d = " + std::to_string(x[2]), H);
  BlockConfig c;
  c.B = std::int64_t(x[0]);
  c.L = std::int64_t(x[1]);
  c.d = std::int64_t(x[2]);
  c.H = H;
  const std::int64_t Dh = c.d / H;
  ODY_REQUIRE(std::int64_t(wk[0]) % Dh == 0, (dir / "wk.npy").string(),
              "G·Dh rows with Dh = " + std::to_string(Dh), wk[0]);
  c.G = std::int64_t(wk[0]) / Dh;
  c.ffn = std::int64_t(wg[0]);
  c.causal = causal;
  c.validate();
  return c;
}

BlockInputs load_block(const fs::path& dir, const BlockConfig& cfg) {
  cfg.validate();
  BlockInputs in;
  in.x = Array3(Kokkos::ViewAllocateWithoutInitializing("x"), cfg.B, cfg.L, cfg.d);
  read_npy(dir / "x.npy", btd(cfg), in.x.data());
  if (fs::exists(dir / "dy.npy")) {
    in.dy = Array3(Kokkos::ViewAllocateWithoutInitializing("dy"), cfg.B, cfg.L, cfg.d);
    read_npy(dir / "dy.npy", btd(cfg), in.dy.data());
  }
  in.weights = BlockWeights(cfg);
  load_set(dir, in.weights.tensors());
  return in;
}

BlockOutputs load_block_outputs(const fs::path& dir, const BlockConfig& cfg) {
  cfg.validate();
  BlockOutputs out;
  out.y = Array3(Kokkos::ViewAllocateWithoutInitializing("y"), cfg.B, cfg.L, cfg.d);
  read_npy(dir / "y.npy", btd(cfg), out.y.data());
  if (fs::exists(dir / "dx.npy")) {
    out.dx = Array3(Kokkos::ViewAllocateWithoutInitializing("dx"), cfg.B, cfg.L, cfg.d);
    read_npy(dir / "dx.npy", btd(cfg), out.dx.data());
  }
  if (fs::exists(dir / "dwq.npy")) {
    out.grads = BlockGrads(cfg);
    load_set(dir, out.grads.tensors());
  }
  return out;
}

void save_block_inputs(const fs::path& dir, Span3<const float> x, Span3<const float> dy,
                       const BlockWeights& w) {
  fs::create_directories(dir);
  save3(dir / "x.npy", x);
  if (dy.data() != nullptr) save3(dir / "dy.npy", dy);
  save_set(dir, w.tensors());
}

void save_block_outputs(const fs::path& dir, Span3<const float> y, Span3<const float> dx,
                        const BlockGrads* grads) {
  fs::create_directories(dir);
  save3(dir / "y.npy", y);
  if (dx.data() != nullptr) save3(dir / "dx.npy", dx);
  if (grads != nullptr) save_set(dir, grads->tensors());
}

}  // namespace ody::layers
