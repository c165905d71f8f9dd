#pragma once
// SIGPROC filterbank (.fil): a keyword header between HEADER_START and HEADER_END (each keyword a
// length-prefixed string, then its value: int32, float64 or a length-prefixed string), then the data,
// time-major: sample t, IF i, channel c at ((t * nifs) + i) * nchans + c, nbits each (8 and 16: unsigned
// integers, as blimpy reads them; 32: float32). Reads take only the byte ranges they need (pread), so a
// scan's memory stays flat in the file's size.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cadence/core/atomic_file.hpp"
#include "cadence/core/error.hpp"
#include "cadence/core/regular_file.hpp"
#include "cadence/observe/observation.hpp"

namespace cadence::observe {

namespace sigproc {

enum class Kind { int32, float64, string, byte };

/// The keywords blimpy and SIGPROC write, by value type. An unknown keyword cannot be skipped (its
/// size is not in the file), so it is an error naming it.
inline const std::map<std::string, Kind, std::less<>>& keywords() {
  static const std::map<std::string, Kind, std::less<>> k{
      {"telescope_id", Kind::int32}, {"machine_id", Kind::int32},    {"data_type", Kind::int32},
      {"barycentric", Kind::int32},  {"pulsarcentric", Kind::int32}, {"nbits", Kind::int32},
      {"nsamples", Kind::int32},     {"nchans", Kind::int32},        {"nifs", Kind::int32},
      {"nbeams", Kind::int32},       {"ibeam", Kind::int32},         {"nbins", Kind::int32},
      {"npuls", Kind::int32},        {"rawdatafile", Kind::string},  {"source_name", Kind::string},
      {"az_start", Kind::float64},   {"za_start", Kind::float64},    {"tstart", Kind::float64},
      {"tsamp", Kind::float64},      {"fch1", Kind::float64},        {"foff", Kind::float64},
      {"refdm", Kind::float64},      {"period", Kind::float64},      {"src_raj", Kind::float64},
      {"src_dej", Kind::float64},    {"signed", Kind::byte}};
  return k;
}

/// Checks what every format's header must satisfy; `where` names the file.
inline void check(const Header& h, const std::string& where) {
  if (h.nchans < 1) fail(where, ": nchans is ", h.nchans, " (at least 1)");
  if (h.nifs < 1) fail(where, ": nifs is ", h.nifs, " (at least 1)");
  if (h.nbits != 8 && h.nbits != 16 && h.nbits != 32)
    fail(where, ": nbits is ", h.nbits, "; cadence reads 8, 16 (unsigned) and 32 (float)");
  if (!(h.foff != 0.0) || !std::isfinite(h.foff)) fail(where, ": foff is ", h.foff, " (the channel width, not 0)");
  if (!std::isfinite(h.fch1)) fail(where, ": fch1 is not a number");
  if (!(h.tsamp > 0.0)) fail(where, ": tsamp is ", h.tsamp, " (seconds per sample, above 0)");
}

/// Reads a .fil header from `bytes` (the file's first `size` bytes). Returns the header; sets
/// `data_offset` to where the data starts.
inline Header parse(const std::uint8_t* bytes, std::size_t size, const std::string& where, std::size_t& data_offset) {
  std::size_t at = 0;
  auto need = [&](std::size_t n, const char* what) {
    if (size - at < n) fail(where, ": truncated header (", what, " at byte ", at, ", the file has ", size, ")");
  };
  auto int32 = [&](const char* what) {
    need(4, what);
    std::int32_t v;
    std::memcpy(&v, bytes + at, 4);
    at += 4;
    return v;
  };
  auto string = [&](const char* what) {
    const std::int32_t n = int32(what);
    if (n < 1 || n > 4096)
      fail(where, ": not a SIGPROC filterbank header (a string of length ", n, " at byte ", at - 4, ")");
    need(static_cast<std::size_t>(n), what);
    std::string s(reinterpret_cast<const char*>(bytes + at), static_cast<std::size_t>(n));
    at += static_cast<std::size_t>(n);
    return s;
  };
  if (string("HEADER_START") != "HEADER_START") fail(where, ": not a SIGPROC filterbank file (no HEADER_START)");
  Header h;
  h.nbits = 0;
  bool nchans = false, foff = false, fch1 = false, tsamp = false, nbits = false;
  for (;;) {
    const std::string key = string("a keyword");
    if (key == "HEADER_END") break;
    const auto it = keywords().find(key);
    if (it == keywords().end()) fail(where, ": unknown header keyword `", key, "` at byte ", at - key.size() - 4);
    switch (it->second) {
      case Kind::int32: {
        const std::int32_t v = int32(key.c_str());
        if (key == "nchans") {
          h.nchans = v;
          nchans = true;
        } else if (key == "nifs")
          h.nifs = v;
        else if (key == "nbits") {
          h.nbits = v;
          nbits = true;
        }
        break;
      }
      case Kind::float64: {
        need(8, key.c_str());
        double v;
        std::memcpy(&v, bytes + at, 8);
        at += 8;
        if (key == "fch1") {
          h.fch1 = v;
          fch1 = true;
        } else if (key == "foff") {
          h.foff = v;
          foff = true;
        } else if (key == "tsamp") {
          h.tsamp = v;
          tsamp = true;
        } else if (key == "tstart")
          h.tstart = v;
        else if (key == "src_raj")
          h.src_raj = v;
        else if (key == "src_dej")
          h.src_dej = v;
        break;
      }
      case Kind::string: {
        auto v = string(key.c_str());
        if (key == "source_name") h.source_name = std::move(v);
        break;
      }
      case Kind::byte:
        need(1, key.c_str());
        if (key == "signed" && bytes[at] != 0)
          fail(where, ": signed 8-bit data is not supported (blimpy reads unsigned)");
        at += 1;
        break;
    }
  }
  for (auto [seen, name] :
       {std::pair{nchans, "nchans"}, {nbits, "nbits"}, {fch1, "fch1"}, {foff, "foff"}, {tsamp, "tsamp"}})
    if (!seen) fail(where, ": the header has no `", name, "`");
  check(h, where);
  data_offset = at;
  return h;
}

inline void put_string(std::string& out, std::string_view s) {
  const auto n = static_cast<std::int32_t>(s.size());
  out.append(reinterpret_cast<const char*>(&n), 4);
  out.append(s);
}
template <class T>
void put_value(std::string& out, std::string_view key, T v) {
  put_string(out, key);
  out.append(reinterpret_cast<const char*>(&v), sizeof v);
}

/// A header's bytes, as blimpy writes them.
inline std::string encode(const Header& h) {
  std::string out;
  put_string(out, "HEADER_START");
  put_value<std::int32_t>(out, "telescope_id", 6);  // Green Bank
  put_value<std::int32_t>(out, "machine_id", 10);
  put_value<std::int32_t>(out, "data_type", 1);
  put_string(out, "source_name");
  put_string(out, h.source_name);
  put_value<double>(out, "fch1", h.fch1);
  put_value<double>(out, "foff", h.foff);
  put_value<std::int32_t>(out, "nchans", static_cast<std::int32_t>(h.nchans));
  put_value<double>(out, "tstart", h.tstart);
  put_value<double>(out, "tsamp", h.tsamp);
  put_value<std::int32_t>(out, "nbits", static_cast<std::int32_t>(h.nbits));
  put_value<std::int32_t>(out, "nifs", static_cast<std::int32_t>(h.nifs));
  put_string(out, "HEADER_END");
  return out;
}

}  // namespace sigproc

/// Writes a filterbank file atomically: `data` is nsamples x nifs x nchans floats (IF-major per sample),
/// stored with h.nbits (8 and 16 bits: rounded and clamped to the unsigned range). For tests and
/// synthetic observations.
inline void write_filterbank(const std::filesystem::path& path, Header h, std::span<const float> data) {
  sigproc::check(h, path.string());
  const auto per_sample = static_cast<std::size_t>(h.nifs * h.nchans);
  if (data.size() % per_sample != 0)
    fail(path.string(), ": ", data.size(), " values are not whole samples of ", per_sample);
  write_text_atomically(path, [&](std::ostream& o) {
    o << sigproc::encode(h);
    std::vector<char> buf(data.size() * static_cast<std::size_t>(h.nbits / 8));
    for (std::size_t i = 0; i < data.size(); ++i) {
      const float v = data[i];
      if (h.nbits == 32)
        std::memcpy(buf.data() + 4 * i, &v, 4);
      else if (h.nbits == 16) {
        const auto u = static_cast<std::uint16_t>(std::clamp(std::lround(v), 0L, 65535L));
        std::memcpy(buf.data() + 2 * i, &u, 2);
      } else {
        buf[i] = static_cast<char>(static_cast<std::uint8_t>(std::clamp(std::lround(v), 0L, 255L)));
      }
    }
    o.write(buf.data(), static_cast<std::streamsize>(buf.size()));
  });
}

/// A .fil file, read with pread(): each read takes the rows' byte ranges it needs, so memory stays flat
/// in the file's size (a memory map would too, but its touched pages count as the process' resident
/// memory until the kernel reclaims them, and a scan touches the whole file).
class FilterbankFile final : public File {
 public:
  explicit FilterbankFile(const std::filesystem::path& path) {
    const std::string where = path.string();
    fd_ = open_regular_file(path, where);  // a FIFO or device is refused, not waited on
    try {
      struct stat st {};
      if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) fail(where, ": not a regular file");
      const auto size = static_cast<std::size_t>(st.st_size);
      if (size == 0) fail(where, ": empty file");
      std::vector<std::uint8_t> head(
          std::min<std::size_t>(size, std::size_t{1} << 20));  // headers are under a kilobyte
      pread_all(head.data(), head.size(), 0, where);
      h_ = sigproc::parse(head.data(), head.size(), where, offset_);
      h_.file = path;
      const auto bytes_per_sample = static_cast<std::size_t>(h_.nifs * h_.nchans * (h_.nbits / 8));
      const std::size_t data = size - offset_;
      if (data == 0) fail(where, ": no data after the header");
      if (data % bytes_per_sample != 0)
        fail(where, ": truncated data (", data, " bytes after the header is not a whole number of ", bytes_per_sample,
             "-byte samples)");
      h_.nsamples = static_cast<std::int64_t>(data / bytes_per_sample);
    } catch (...) {
      ::close(fd_);
      throw;
    }
  }
  FilterbankFile(const FilterbankFile&) = delete;
  FilterbankFile& operator=(const FilterbankFile&) = delete;
  ~FilterbankFile() override { ::close(fd_); }

  const Header& header() const override { return h_; }

  void read(std::int64_t first, std::int64_t count, float* out) const override {
    if (first < 0 || count < 1 || first + count > h_.nchans)
      fail(h_.file.string(), ": channels [", first, ", ", first + count, ") are outside 0..", h_.nchans);
    const auto bytes = static_cast<std::size_t>(h_.nbits / 8);
    const auto row = static_cast<std::size_t>(h_.nifs * h_.nchans) * bytes;  // one time sample, all IFs
    const auto n = static_cast<std::size_t>(count);
    thread_local std::vector<std::uint8_t> buf;
    buf.resize(n * bytes);
    for (std::int64_t t = 0; t < h_.nsamples; ++t) {
      float* dst = out + static_cast<std::size_t>(t) * n;
      const std::size_t at = offset_ + static_cast<std::size_t>(t) * row + static_cast<std::size_t>(first) * bytes;
      if (h_.nbits == 32) {
        pread_all(dst, n * 4, at, h_.file.string());
        continue;
      }
      pread_all(buf.data(), buf.size(), at, h_.file.string());
      if (h_.nbits == 16)
        for (std::size_t c = 0; c < n; ++c) {
          std::uint16_t v;
          std::memcpy(&v, buf.data() + 2 * c, 2);
          dst[c] = static_cast<float>(v);
        }
      else
        for (std::size_t c = 0; c < n; ++c) dst[c] = static_cast<float>(buf[c]);
    }
  }

 private:
  void pread_all(void* into, std::size_t n, std::size_t at, const std::string& where) const {
    auto* p = static_cast<char*>(into);
    while (n > 0) {
      const ssize_t got = ::pread(fd_, p, n, static_cast<off_t>(at));
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0)
        fail(where, ": cannot read ", n, " bytes at offset ", at,
             got < 0 ? std::string(" (") + std::strerror(errno) + ")" : std::string(" (the file shrank?)"));
      p += got;
      n -= static_cast<std::size_t>(got);
      at += static_cast<std::size_t>(got);
    }
  }

  int fd_ = -1;
  std::size_t offset_ = 0;
  Header h_;
};

}  // namespace cadence::observe
