#pragma once
// .npy reading and writing (NumPy format 1.0 and 2.0), float16 and float32, little-endian, C order.
// Everything else is refused with the file named. The header is checked against the file size
// before anything is allocated, so a corrupt header that claims a huge shape costs nothing.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cadence/core/atomic_file.hpp"
#include "cadence/core/error.hpp"
#include "cadence/data/half.hpp"

namespace cadence::npy {

enum class Dtype { f2, f4 };

struct Header {
  Dtype dtype = Dtype::f4;
  std::vector<std::int64_t> shape;
  std::size_t data_offset = 0;  // bytes from the start of the file to the data
  std::size_t count() const {
    std::size_t n = 1;
    for (auto d : shape) n *= static_cast<std::size_t>(d);
    return n;
  }
  std::size_t itemsize() const { return dtype == Dtype::f2 ? 2 : 4; }
};

inline std::string shape_string(std::span<const std::int64_t> shape) {
  std::string s = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + (shape.size() == 1 ? ",)" : ")");
}

namespace detail {

inline std::string_view dict_value(std::string_view dict, std::string_view key, const std::string& file) {
  std::string quoted(1, '\'');
  quoted.append(key).push_back('\'');
  const auto k = dict.find(quoted);
  if (k == std::string_view::npos) fail(file, ": npy header has no '", key, "' entry");
  // numpy's literal_eval would keep the last of two; which one a writer meant is unknowable
  if (dict.find(quoted, k + quoted.size()) != std::string_view::npos)
    fail(file, ": npy header gives '", key, "' twice (each key may appear once)");
  auto p = dict.find(':', k);
  if (p == std::string_view::npos) fail(file, ": malformed npy header");
  ++p;
  while (p < dict.size() && dict[p] == ' ') ++p;
  std::size_t e = p;
  if (p < dict.size() && dict[p] == '(') {
    e = dict.find(')', p);
    if (e == std::string_view::npos) fail(file, ": malformed shape in npy header");
    ++e;
  } else if (p < dict.size() && dict[p] == '\'') {
    e = dict.find('\'', p + 1);
    if (e == std::string_view::npos) fail(file, ": malformed npy header");
    ++e;
  } else {
    while (e < dict.size() && dict[e] != ',' && dict[e] != '}') ++e;
  }
  return dict.substr(p, e - p);
}

}  // namespace detail

/// Parses the header from the first bytes of a file of `file_size` bytes.
inline Header parse_header(std::span<const char> bytes, std::size_t file_size, const std::string& file) {
  if (bytes.size() < 10 || std::memcmp(bytes.data(), "\x93NUMPY", 6) != 0) fail(file, ": not an .npy file (bad magic)");
  const int major = static_cast<unsigned char>(bytes[6]);
  std::size_t header_len = 0, prefix = 0;
  if (major == 1) {
    header_len =
        static_cast<unsigned char>(bytes[8]) | (static_cast<std::size_t>(static_cast<unsigned char>(bytes[9])) << 8);
    prefix = 10;
  } else if (major == 2) {
    if (bytes.size() < 12) fail(file, ": truncated npy header");
    header_len = 0;
    for (int i = 3; i >= 0; --i) header_len = (header_len << 8) | static_cast<unsigned char>(bytes[8 + i]);
    prefix = 12;
  } else {
    fail(file, ": npy format version ", major, ".", static_cast<int>(static_cast<unsigned char>(bytes[7])),
         " is not supported (1.0 and 2.0 are)");
  }
  if (prefix + header_len > bytes.size()) fail(file, ": truncated npy header");
  const std::string_view dict(bytes.data() + prefix, header_len);

  Header h;
  h.data_offset = prefix + header_len;
  const auto descr = detail::dict_value(dict, "descr", file);
  if (descr == "'<f2'")
    h.dtype = Dtype::f2;
  else if (descr == "'<f4'")
    h.dtype = Dtype::f4;
  else if (descr == "'>f2'" || descr == "'>f4'")
    fail(file, ": dtype ", first_line(descr, 40), " is big-endian; cadence reads little-endian <f2 or <f4");
  else
    fail(file, ": dtype ", first_line(descr, 40), " is not supported; cadence reads <f2 (float16) or <f4 (float32)");

  if (detail::dict_value(dict, "fortran_order", file) != "False")
    fail(file, ": Fortran order is not supported; save with np.ascontiguousarray(a)");

  const auto shape = detail::dict_value(dict, "shape", file);
  std::size_t count = 1;
  for (std::size_t i = 1; i < shape.size();) {
    while (i < shape.size() && (shape[i] == ' ' || shape[i] == ',')) ++i;
    if (i >= shape.size() || shape[i] == ')') break;
    std::int64_t d = 0;
    bool digits = false;
    while (i < shape.size() && shape[i] >= '0' && shape[i] <= '9') {
      if (d > (std::int64_t{1} << 40)) fail(file, ": npy shape ", first_line(shape, 80), " is implausibly large");
      d = d * 10 + (shape[i] - '0');
      digits = true;
      ++i;
    }
    if (!digits) fail(file, ": malformed shape ", first_line(shape, 80), " in npy header");
    if (d != 0 && count > std::numeric_limits<std::size_t>::max() / 8 / static_cast<std::size_t>(d))
      fail(file, ": npy shape ", first_line(shape, 80), " is implausibly large");
    count *= static_cast<std::size_t>(d);
    h.shape.push_back(d);
  }
  const std::size_t need = h.data_offset + count * h.itemsize();
  if (file_size < need)
    fail(file, ": truncated: shape ", shape_string(h.shape), " needs ", need, " bytes, the file has ", file_size);
  return h;
}

namespace detail {

/// An open file descriptor, closed when it goes out of scope.
struct OpenFile {
  int fd = -1;
  std::size_t size = 0;
  // O_NONBLOCK: a FIFO put where a sample was (after the dataset's scan) opens at once and is refused
  // below, instead of blocking the reader thread forever; regular files ignore the flag.
  explicit OpenFile(const std::string& file) : fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK)) {
    if (fd < 0) fail(file, ": cannot open: ", std::strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      ::close(fd);
      fail(file, ": cannot stat");
    }
    if (!S_ISREG(st.st_mode)) {
      ::close(fd);
      fail(file, ": not a regular file");
    }
    size = static_cast<std::size_t>(st.st_size);
  }
  OpenFile(const OpenFile&) = delete;
  OpenFile& operator=(const OpenFile&) = delete;
  ~OpenFile() { ::close(fd); }

  /// The header, checked against the file's size before anything is sized from it. Reads 4 KiB (a
  /// header is usually 128 bytes), more only if the header says it is longer.
  Header header(const std::string& file) const {
    thread_local std::vector<char> head(std::size_t{1} << 16);  // any 1.0 header; 2.0 up to 64 KiB
    constexpr std::size_t first = 4096;
    ssize_t got = ::pread(fd, head.data(), first, 0);
    if (got == static_cast<ssize_t>(first) && declared_end(head.data()) > first)
      got = ::pread(fd, head.data(), head.size(), 0);
    if (got < 0) fail(file, ": read error");
    return parse_header(std::span<const char>(head.data(), static_cast<std::size_t>(got)), size, file);
  }

  /// Where a header that starts with `b` (at least 12 bytes) says it ends; 0 if it is not one.
  static std::size_t declared_end(const char* b) {
    const auto byte = [b](int i) { return static_cast<std::size_t>(static_cast<unsigned char>(b[i])); };
    if (byte(6) == 1) return 10 + (byte(8) | byte(9) << 8);
    if (byte(6) == 2 || byte(6) == 3) return 12 + (byte(8) | byte(9) << 8 | byte(10) << 16 | byte(11) << 24);
    return 0;
  }

  /// Bytes [offset, offset + n) into `dst`, all of them.
  void read(char* dst, std::size_t n, std::size_t offset, const std::string& file) const {
    std::size_t done = 0;
    while (done < n) {
      const ssize_t r = ::pread(fd, dst + done, n - done, static_cast<off_t>(offset + done));
      if (r <= 0) fail(file, ": read error or truncated file");
      done += static_cast<std::size_t>(r);
    }
  }
};

}  // namespace detail

/// A file's header only (and that the file is long enough for it): what `seti check` reads.
inline Header read_header(const std::filesystem::path& path) {
  const std::string file = path.string();
  return detail::OpenFile(file).header(file);
}

/// A file read fully into a reusable byte buffer (one read per file, no per-file allocation once warm).
inline Header read_raw(const std::filesystem::path& path, std::vector<char>& buffer) {
  const std::string file = path.string();
  const detail::OpenFile f(file);
  const Header h = f.header(file);  // a lying header is caught before the buffer is sized
  const std::size_t need = h.data_offset + h.count() * h.itemsize();
  buffer.resize(need);
  f.read(buffer.data(), need, 0, file);
  return h;
}

/// Refuses a header whose shape is not `expected` (an empty span accepts any shape).
inline void check_shape(const Header& h, std::span<const std::int64_t> expected, const std::filesystem::path& path) {
  if (!expected.empty() && !std::equal(h.shape.begin(), h.shape.end(), expected.begin(), expected.end()))
    fail(path.string(), ": shape ", shape_string(h.shape), ", expected ", shape_string(expected));
}

/// read_raw() of the slices along the first axis that a reader keeps: 0, step, 2 step, ... of a file
/// whose shape must be `expected` (checked before any data is read). `buffer` is laid out as the
/// whole file; the skipped slices' bytes are left as they were. The loader keeps the ON panels of a
/// cadence (step 2) and so reads half of each file.
inline Header read_slices(const std::filesystem::path& path, std::span<const std::int64_t> expected, std::int64_t step,
                          std::vector<char>& buffer) {
  const std::string file = path.string();
  const detail::OpenFile f(file);
  const Header h = f.header(file);
  check_shape(h, expected, path);
  const std::size_t need = h.data_offset + h.count() * h.itemsize();
  buffer.resize(need);
  if (step <= 1 || h.shape.empty() || h.shape[0] == 0) {
    f.read(buffer.data(), need, 0, file);
    return h;
  }
  const std::size_t slice = h.count() / static_cast<std::size_t>(h.shape[0]) * h.itemsize();
  for (std::int64_t k = 0; k < h.shape[0]; k += step) {
    const std::size_t at = h.data_offset + static_cast<std::size_t>(k) * slice;
    f.read(buffer.data() + at, slice, at, file);
  }
  return h;
}

/// Reads `path` as float32 into `out` (resized), refusing any shape other than `expected`
/// (pass an empty span to accept any shape). Returns the header (for the shape).
inline Header read_f32(const std::filesystem::path& path, std::span<const std::int64_t> expected,
                       std::vector<float>& out) {
  thread_local std::vector<char> buffer;
  const Header h = read_raw(path, buffer);
  check_shape(h, expected, path);
  const std::size_t n = h.count();
  out.resize(n);
  const char* data = buffer.data() + h.data_offset;
  if (h.dtype == Dtype::f4)
    std::memcpy(out.data(), data, n * 4);
  else
    halves_to_floats(data, n, out.data());
  return h;
}

/// A format 1.0 header around a header dict, padded with spaces so that the data starts on a 64-byte
/// boundary (as numpy writes it).
inline std::string frame_header(std::string dict) {
  const std::size_t unpadded = 10 + dict.size() + 1;
  dict.append((64 - unpadded % 64) % 64, ' ');
  dict += '\n';
  std::string out = "\x93NUMPY";
  out += '\x01';
  out += '\x00';
  out += static_cast<char>(dict.size() & 0xFF);
  out += static_cast<char>(dict.size() >> 8);
  return out + dict;
}

inline std::string make_header(Dtype dtype, std::span<const std::int64_t> shape) {
  return frame_header(std::string("{'descr': '") + (dtype == Dtype::f2 ? "<f2" : "<f4") +
                      "', 'fortran_order': False, 'shape': " + shape_string(shape) + ", }");
}

/// Writes raw little-endian data (float16 bits or float32) atomically.
inline void write(const std::filesystem::path& path, Dtype dtype, std::span<const std::int64_t> shape, const void* data,
                  std::size_t bytes) {
  write_text_atomically(path, [&](std::ostream& out) {
    const std::string header = make_header(dtype, shape);
    out.write(header.data(), static_cast<std::streamsize>(header.size()));
    out.write(static_cast<const char*>(data), static_cast<std::streamsize>(bytes));
  });
}

inline void write_f32(const std::filesystem::path& path, std::span<const std::int64_t> shape,
                      std::span<const float> v) {
  write(path, Dtype::f4, shape, v.data(), v.size_bytes());
}
inline void write_f16(const std::filesystem::path& path, std::span<const std::int64_t> shape,
                      std::span<const std::uint16_t> v) {
  write(path, Dtype::f2, shape, v.data(), v.size_bytes());
}

}  // namespace cadence::npy
