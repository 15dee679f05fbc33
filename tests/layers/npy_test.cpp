// .npy reading and writing: round trips, every error case, numpy interoperability (when
// /usr/bin/python3 with numpy is present), and the block's file exchange helpers.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <vector>

#include "base/error.hpp"
#include "layers/block.hpp"
#include "layers/block_io.hpp"
#include "layers/npy.hpp"

namespace ody::layers::test {
namespace {

namespace fs = std::filesystem;

class NpyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("ody_npy_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;

  // Writes raw bytes (for hand-made headers).
  fs::path raw(const std::string& name, const std::string& bytes) {
    const fs::path p = dir_ / name;
    std::ofstream(p, std::ios::binary).write(bytes.data(), std::streamsize(bytes.size()));
    return p;
  }
  // A version-1 header around dict (padded to 64 bytes) plus n float32 zeros.
  static std::string v1_file(std::string dict, std::size_t payload_bytes, int major = 1) {
    const std::size_t pre = major == 1 ? 10 : 12;
    while ((pre + dict.size() + 1) % 64 != 0) dict.push_back(' ');
    dict.push_back('\n');
    std::string s("\x93NUMPY", 6);
    s.push_back(char(major));
    s.push_back(0);
    s.push_back(char(dict.size() & 0xff));
    s.push_back(char(dict.size() >> 8));
    if (major != 1) s.append(2, '\0');
    return s + dict + std::string(payload_bytes, '\0');
  }
  static std::string error_of(const std::function<void()>& f) {
    try {
      f();
    } catch (const Error& e) {
      return e.what();
    }
    return "no error";
  }
};

TEST_F(NpyTest, RoundTripsShapes) {
  const std::vector<std::vector<std::size_t>> shapes = {{},        {1},       {7},         {3, 5},
                                                        {2, 3, 4}, {2, 0, 3}, {1, 2, 3, 4}};
  for (const auto& shape : shapes) {
    std::size_t n = 1;
    for (auto s : shape) n *= s;
    std::vector<float> v(n);
    for (std::size_t e = 0; e < n; ++e) v[e] = float(e) * 0.25f - 3.f;
    const fs::path p = dir_ / "a.npy";
    write_npy(p, v.data(), shape);
    EXPECT_EQ(fs::file_size(p) % 64, (n * 4) % 64) << "data must start on a 64-byte boundary";
    const NpyArray a = read_npy(p);
    EXPECT_EQ(a.shape, shape);
    EXPECT_EQ(a.data, v);
    std::vector<float> back(n);
    read_npy(p, shape, back.data());
    EXPECT_EQ(back, v);
    EXPECT_EQ(npy_shape(p), shape);
  }
}

TEST_F(NpyTest, ReadsVersion2And3Headers) {
  const std::string payload = std::string("\x00\x00\x80\x3f", 4);  // 1.0f
  for (int major : {2, 3}) {
    std::string f = v1_file("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", 0, major);
    const fs::path p = raw("v" + std::to_string(major) + ".npy", f + payload);
    const NpyArray a = read_npy(p);
    ASSERT_EQ(a.shape, std::vector<std::size_t>{1});
    EXPECT_EQ(a.data[0], 1.f);
  }
}

TEST_F(NpyTest, WrongShapeNamesFileExpectedAndFound) {
  std::vector<float> v(6, 1.f);
  const fs::path p = dir_ / "x.npy";
  write_npy(p, v.data(), {2, 3});
  const std::string e = error_of([&] { read_npy(p, {3, 2}, v.data()); });
  EXPECT_NE(e.find("x.npy"), std::string::npos) << e;
  EXPECT_NE(e.find("(3, 2)"), std::string::npos) << e;
  EXPECT_NE(e.find("(2, 3)"), std::string::npos) << e;
}

TEST_F(NpyTest, RejectsOtherDtypes) {
  for (const char* descr : {"<f8", ">f4", "<f2", "<i4"}) {
    const fs::path p = raw("d.npy", v1_file(std::string("{'descr': '") + descr +
                                                "', 'fortran_order': False, 'shape': (2,), }",
                                            16));
    const std::string e = error_of([&] { read_npy(p); });
    EXPECT_NE(e.find("dtype"), std::string::npos) << e;
    EXPECT_NE(e.find(descr), std::string::npos) << e;
  }
}

TEST_F(NpyTest, RejectsFortranOrder) {
  const fs::path p =
      raw("f.npy", v1_file("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", 16));
  const std::string e = error_of([&] { read_npy(p); });
  EXPECT_NE(e.find("fortran_order"), std::string::npos) << e;
}

TEST_F(NpyTest, RejectsTruncatedAndDamagedFiles) {
  std::vector<float> v(12, 2.f);
  const fs::path good = dir_ / "g.npy";
  write_npy(good, v.data(), {3, 4});
  std::ifstream in(good, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Truncated in the data, in the header, in the preamble.
  for (std::size_t keep : {bytes.size() - 1, bytes.size() - 48, std::size_t(40), std::size_t(5)}) {
    const fs::path p = raw("t.npy", bytes.substr(0, keep));
    const std::string e = error_of([&] { read_npy(p); });
    EXPECT_NE(e.find("truncated"), std::string::npos) << keep << ": " << e;
    EXPECT_NE(e.find("t.npy"), std::string::npos) << e;
  }
  // Extra bytes after the data.
  const std::string e = error_of([&] { read_npy(raw("x.npy", bytes + "junk")); });
  EXPECT_NE(e.find("after the data"), std::string::npos) << e;
  // Missing file.
  EXPECT_NE(error_of([&] { read_npy(dir_ / "missing.npy"); }).find("missing.npy"),
            std::string::npos);
}

TEST_F(NpyTest, RejectsBadMagicAndHeaders) {
  std::vector<float> v(2, 2.f);
  const fs::path good = dir_ / "g.npy";
  write_npy(good, v.data(), {2});
  std::ifstream in(good, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::string bad = bytes;
  bad[1] = 'X';
  EXPECT_NE(error_of([&] { read_npy(raw("m.npy", bad)); }).find("bad magic"), std::string::npos);
  EXPECT_NE(error_of([&] {
              read_npy(raw("h.npy", v1_file("{'descr': '<f4', 'fortran_order': False}", 8)));
            }).find("'shape'"),
            std::string::npos);
  EXPECT_NE(
      error_of([&] {
        read_npy(raw("s.npy",
                     v1_file("{'descr': '<f4', 'fortran_order': False, 'shape': (2, -1), }", 8)));
      }).find("not a non-negative integer"),
      std::string::npos);
  std::string v9 = bytes;
  v9[6] = 9;
  EXPECT_NE(error_of([&] { read_npy(raw("v.npy", v9)); }).find("version 9"), std::string::npos);
}

// numpy reads what we write and we read what numpy writes.
TEST_F(NpyTest, InteroperatesWithNumpy) {
  const char* py = "/usr/bin/python3";
  if (!fs::exists(py) || std::system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "/usr/bin/python3 with numpy is not available";
  std::vector<float> v(2 * 3 * 5);
  for (std::size_t e = 0; e < v.size(); ++e) v[e] = float(e) / 7.f - 1.f;
  write_npy(dir_ / "ours.npy", v.data(), {2, 3, 5});
  const std::string check =
      std::string(py) + " -c \"import numpy as np; a = np.load('" + (dir_ / "ours.npy").string() +
      "'); e = (np.arange(30, dtype=np.float32) / np.float32(7) - np.float32(1)).reshape(2, 3, 5); "
      "assert a.dtype == np.float32 and a.shape == (2, 3, 5) and (a == e).all(); "
      "np.save('" +
      (dir_ / "theirs.npy").string() +
      "', (np.arange(24, dtype=np.float32) * 0.5).reshape(4, 6)); "
      "np.save('" +
      (dir_ / "f8.npy").string() + "', np.zeros(3))\"";
  ASSERT_EQ(std::system(check.c_str()), 0) << "numpy failed to read our file: " << check;
  const NpyArray a = read_npy(dir_ / "theirs.npy");
  ASSERT_EQ(a.shape, (std::vector<std::size_t>{4, 6}));
  for (std::size_t e = 0; e < 24; ++e) ASSERT_EQ(a.data[e], float(e) * 0.5f);
  EXPECT_NE(error_of([&] { read_npy(dir_ / "f8.npy"); }).find("'<f8'"), std::string::npos);
}

TEST_F(NpyTest, BlockFilesRoundTrip) {
  const BlockConfig cfg{1, 6, 16, 4, 2, 24, true};
  BlockWeights w(cfg);
  init_block_weights(w, cfg, 3);
  const Array3 x = make_block_input(cfg, 3), dy = make_block_dy(cfg, 3);
  save_block_inputs(dir_, x, dy, w);
  for (const char* name :
       {"x", "dy", "attn_norm", "wq", "wk", "wv", "wo", "mlp_norm", "w_gate", "w_up", "w_down"})
    EXPECT_TRUE(fs::exists(dir_ / (std::string(name) + ".npy"))) << name;
  const BlockConfig inferred = infer_block_config(dir_, 4, true);
  EXPECT_EQ(inferred.B, 1);
  EXPECT_EQ(inferred.L, 6);
  EXPECT_EQ(inferred.d, 16);
  EXPECT_EQ(inferred.G, 2);
  EXPECT_EQ(inferred.ffn, 24);
  const BlockInputs in = load_block(dir_, inferred);
  for (std::size_t e = 0; e < x.size(); ++e) ASSERT_EQ(in.x.data()[e], x.data()[e]);
  for (std::size_t e = 0; e < dy.size(); ++e) ASSERT_EQ(in.dy.data()[e], dy.data()[e]);
  const auto a = w.tensors(), b = in.weights.tensors();
  for (std::size_t k = 0; k < a.size(); ++k)
    for (std::size_t e = 0; e < a[k].size(); ++e)
      ASSERT_EQ(a[k].data[e], b[k].data[e]) << a[k].name;

  Block block(cfg);
  Array3 y("y", 1, 6, 16), dx("dx", 1, 6, 16);
  BlockGrads g(cfg);
  block.forward(y, x, w);
  block.backward(dx, g, dy, w);
  save_block_outputs(dir_, y, dx, &g);
  for (const char* name : {"y", "dx", "dattn_norm", "dwq", "dwk", "dwv", "dwo", "dmlp_norm",
                           "dw_gate", "dw_up", "dw_down"})
    EXPECT_TRUE(fs::exists(dir_ / (std::string(name) + ".npy"))) << name;
  const BlockOutputs out = load_block_outputs(dir_, cfg);
  for (std::size_t e = 0; e < y.size(); ++e) ASSERT_EQ(out.y.data()[e], y.data()[e]);
  EXPECT_EQ(out.grads.dwq(3, 5), g.dwq(3, 5));

  // A config that disagrees with the files: the error names the file and both shapes.
  BlockConfig other = cfg;
  other.G = 4;
  const std::string e = error_of([&] { load_block(dir_, other); });
  EXPECT_NE(e.find("wk.npy"), std::string::npos) << e;
}

}  // namespace
}  // namespace ody::layers::test
