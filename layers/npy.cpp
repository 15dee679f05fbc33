#include "layers/npy.hpp"

#include <bit>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "base/error.hpp"

namespace ody::layers {

namespace {

namespace fs = std::filesystem;
constexpr char kMagic[] = "\x93NUMPY";  // 6 bytes
constexpr std::size_t kMagicLen = 6;

std::string shape_str(const std::vector<std::size_t>& s) {
  std::ostringstream os;
  os << "(";
  for (std::size_t k = 0; k < s.size(); ++k) os << (k ? ", " : "") << s[k];
  if (s.size() == 1) os << ",";
  os << ")";
  return os.str();
}

std::size_t count(const std::vector<std::size_t>& s) {
  std::size_t n = 1;
  for (auto v : s) n *= v;
  return n;
}

[[noreturn]] void damaged(const fs::path& p, const std::string& what) {
  throw Error(p.string() + ": not a valid .npy file: " + what);
}

struct Header {
  std::vector<std::size_t> shape;
  std::size_t data_offset = 0;
};

// Value of key in a Python dict literal such as
// {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
std::string dict_value(const fs::path& p, const std::string& dict, const std::string& key) {
  const auto k = dict.find("'" + key + "'");
  if (k == std::string::npos) damaged(p, "header has no '" + key + "' key");
  auto c = dict.find(':', k);
  if (c == std::string::npos) damaged(p, "header key '" + key + "' has no value");
  ++c;
  while (c < dict.size() && dict[c] == ' ') ++c;
  if (c >= dict.size()) damaged(p, "header ends after '" + key + "'");
  std::size_t e;
  if (dict[c] == '\'' || dict[c] == '"') {
    e = dict.find(dict[c], c + 1);
    if (e == std::string::npos) damaged(p, "unterminated string in header");
    return dict.substr(c, e - c + 1);
  }
  if (dict[c] == '(') {
    e = dict.find(')', c);
    if (e == std::string::npos) damaged(p, "unterminated shape tuple in header");
    return dict.substr(c, e - c + 1);
  }
  e = dict.find_first_of(",}", c);
  if (e == std::string::npos) damaged(p, "header value of '" + key + "' is not terminated");
  std::string v = dict.substr(c, e - c);
  while (!v.empty() && v.back() == ' ') v.pop_back();
  return v;
}

Header read_header(std::ifstream& in, const fs::path& p, std::uintmax_t file_size) {
  char pre[10];
  if (!in.read(pre, 8)) damaged(p, "shorter than the 8-byte preamble (truncated)");
  if (std::memcmp(pre, kMagic, kMagicLen) != 0) damaged(p, "bad magic (expected \\x93NUMPY)");
  const int major = static_cast<unsigned char>(pre[6]);
  std::size_t len = 0, pre_len = 0;
  if (major == 1) {
    if (!in.read(pre + 8, 2)) damaged(p, "truncated in the header length");
    len = std::size_t(static_cast<unsigned char>(pre[8])) |
          std::size_t(static_cast<unsigned char>(pre[9])) << 8;
    pre_len = 10;
  } else if (major == 2 || major == 3) {
    unsigned char b[4];
    if (!in.read(reinterpret_cast<char*>(b), 4)) damaged(p, "truncated in the header length");
    len = std::size_t(b[0]) | std::size_t(b[1]) << 8 | std::size_t(b[2]) << 16 |
          std::size_t(b[3]) << 24;
    pre_len = 12;
  } else {
    damaged(p, "unsupported format version " + std::to_string(major));
  }
  if (pre_len + len > file_size) damaged(p, "header longer than the file (truncated)");
  std::string dict(len, '\0');
  if (!in.read(dict.data(), std::streamsize(len))) damaged(p, "truncated in the header");

  const std::string descr = dict_value(p, dict, "descr");
  ODY_REQUIRE(descr == "'<f4'" || descr == "'=f4'" || descr == "'f4'", p.string() + ": dtype",
              "float32 little-endian ('<f4')", descr);
  const std::string fortran = dict_value(p, dict, "fortran_order");
  ODY_REQUIRE(fortran == "False", p.string() + ": fortran_order", "False (C order)", fortran);
  const std::string tuple = dict_value(p, dict, "shape");
  if (tuple.size() < 2 || tuple.front() != '(') damaged(p, "shape is not a tuple: " + tuple);
  Header h;
  std::string inner = tuple.substr(1, tuple.size() - 2);
  std::istringstream ts(inner);
  std::string item;
  while (std::getline(ts, item, ',')) {
    const auto b = item.find_first_not_of(' ');
    if (b == std::string::npos) continue;  // trailing comma of a 1-tuple
    const auto e = item.find_last_not_of(" L");
    const std::string num = item.substr(b, e - b + 1);
    if (num.empty() || num.find_first_not_of("0123456789") != std::string::npos)
      damaged(p, "shape entry '" + num + "' is not a non-negative integer");
    h.shape.push_back(std::stoull(num));
  }
  h.data_offset = pre_len + len;
  const std::uintmax_t want = h.data_offset + count(h.shape) * sizeof(float);
  if (file_size < want)
    damaged(p, "truncated: " + std::to_string(file_size) + " bytes, the header " +
                   shape_str(h.shape) + " needs " + std::to_string(want));
  if (file_size > want)
    damaged(p, "damaged: " + std::to_string(file_size - want) + " bytes after the data of shape " +
                   shape_str(h.shape));
  return h;
}

std::uintmax_t size_of(const fs::path& p) {
  std::error_code ec;
  const auto n = fs::file_size(p, ec);
  if (ec) throw Error(p.string() + ": cannot open .npy file: " + ec.message());
  return n;
}

void read_data(std::ifstream& in, const fs::path& p, float* dst, std::size_t n) {
  if (!in.read(reinterpret_cast<char*>(dst), std::streamsize(n * sizeof(float))))
    damaged(p, "truncated in the data");
  if constexpr (std::endian::native == std::endian::big) {
    for (std::size_t k = 0; k < n; ++k) {
      std::uint32_t v;
      std::memcpy(&v, dst + k, 4);
      v = __builtin_bswap32(v);
      std::memcpy(dst + k, &v, 4);
    }
  }
}

std::ifstream open_in(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw Error(p.string() + ": cannot open .npy file for reading");
  return in;
}

}  // namespace

std::vector<std::size_t> npy_shape(const fs::path& path) {
  const auto size = size_of(path);
  auto in = open_in(path);
  return read_header(in, path, size).shape;
}

NpyArray read_npy(const fs::path& path) {
  const auto size = size_of(path);
  auto in = open_in(path);
  NpyArray a;
  a.shape = read_header(in, path, size).shape;
  a.data.resize(count(a.shape));
  read_data(in, path, a.data.data(), a.data.size());
  return a;
}

void read_npy(const fs::path& path, const std::vector<std::size_t>& expected_shape, float* dst) {
  const auto size = size_of(path);
  auto in = open_in(path);
  const Header h = read_header(in, path, size);
  ODY_REQUIRE(h.shape == expected_shape, path.string() + ": shape", shape_str(expected_shape),
              shape_str(h.shape));
  read_data(in, path, dst, count(h.shape));
}

namespace {
// One little-endian array of n elements of `esize` bytes (descr '<f4' or '<i8').
void write_npy_raw(const fs::path& path, const char* descr, const void* data, std::size_t esize,
                   const std::vector<std::size_t>& shape) {
  std::string dict = std::string("{'descr': '") + descr +
                     "', 'fortran_order': False, 'shape': " + shape_str(shape) + ", }";
  // Pad with spaces and a final newline so that the data starts on a 64-byte boundary.
  const std::size_t pre1 = 10, pre2 = 12;
  std::size_t pre = pre1;
  std::size_t total = (pre + dict.size() + 1 + 63) / 64 * 64;
  if (total - pre > 65535) {
    pre = pre2;
    total = (pre + dict.size() + 1 + 63) / 64 * 64;
  }
  dict.append(total - pre - dict.size() - 1, ' ');
  dict.push_back('\n');
  std::string head(kMagic, kMagicLen);
  head.push_back(char(pre == pre1 ? 1 : 2));
  head.push_back(0);
  const std::size_t len = dict.size();
  head.push_back(char(len & 0xff));
  head.push_back(char((len >> 8) & 0xff));
  if (pre == pre2) {
    head.push_back(char((len >> 16) & 0xff));
    head.push_back(char((len >> 24) & 0xff));
  }
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw Error(path.string() + ": cannot open .npy file for writing");
  out.write(head.data(), std::streamsize(head.size()));
  out.write(dict.data(), std::streamsize(dict.size()));
  const std::size_t n = count(shape);
  const char* bytes = static_cast<const char*>(data);
  if constexpr (std::endian::native == std::endian::big) {
    for (std::size_t k = 0; k < n; ++k) {
      char e[8];
      for (std::size_t j = 0; j < esize; ++j) e[j] = bytes[k * esize + esize - 1 - j];
      out.write(e, std::streamsize(esize));
    }
  } else {
    out.write(bytes, std::streamsize(n * esize));
  }
  if (!out) throw Error(path.string() + ": write failed");
}
}  // namespace

void write_npy(const fs::path& path, const float* data, const std::vector<std::size_t>& shape) {
  write_npy_raw(path, "<f4", data, sizeof(float), shape);
}

void write_npy_int64(const fs::path& path, const std::int64_t* data,
                     const std::vector<std::size_t>& shape) {
  write_npy_raw(path, "<i8", data, sizeof(std::int64_t), shape);
}

}  // namespace ody::layers
