#pragma once
// A dependency-free 8-bit grayscale PNG writer (stored deflate blocks, so no zlib): for pictures
// in docs and reports, not for data.
#include <algorithm>
#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "cadence/core/atomic_file.hpp"

namespace cadence::png {

namespace detail {
inline std::uint32_t crc32(const std::uint8_t* p, std::size_t n, std::uint32_t crc = 0) {
  static const auto table = [] {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  crc = ~crc;
  for (std::size_t i = 0; i < n; ++i) crc = table[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
  return ~crc;
}
inline void put32(std::vector<std::uint8_t>& out, std::uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<std::uint8_t>(v >> s));
}
inline void chunk(std::vector<std::uint8_t>& out, const char* type, const std::vector<std::uint8_t>& data) {
  put32(out, static_cast<std::uint32_t>(data.size()));
  const std::size_t start = out.size();
  out.insert(out.end(), type, type + 4);
  out.insert(out.end(), data.begin(), data.end());
  put32(out, crc32(out.data() + start, out.size() - start));
}
}  // namespace detail

/// Encodes `pixels` (height x width x channels, row-major; 1 channel: gray, 3: RGB) as a PNG file's bytes.
inline std::vector<std::uint8_t> encode(const std::vector<std::uint8_t>& pixels, std::uint32_t width,
                                        std::uint32_t height, std::uint32_t channels = 1) {
  const std::size_t stride = static_cast<std::size_t>(width) * channels;
  std::vector<std::uint8_t> raw;  // each row: filter byte 0, then the row
  raw.reserve((stride + 1) * height);
  for (std::uint32_t y = 0; y < height; ++y) {
    raw.push_back(0);
    raw.insert(raw.end(), pixels.begin() + static_cast<std::ptrdiff_t>(y * stride),
               pixels.begin() + static_cast<std::ptrdiff_t>((y + 1) * stride));
  }
  std::vector<std::uint8_t> z{0x78, 0x01};  // zlib header, then stored blocks of <= 65535 bytes
  std::uint32_t a = 1, b = 0;
  for (std::size_t off = 0; off < raw.size() || off == 0;) {
    const std::size_t n = std::min<std::size_t>(65535, raw.size() - off);
    const bool last = off + n == raw.size();
    z.push_back(last ? 1 : 0);
    z.push_back(static_cast<std::uint8_t>(n));
    z.push_back(static_cast<std::uint8_t>(n >> 8));
    z.push_back(static_cast<std::uint8_t>(~n));
    z.push_back(static_cast<std::uint8_t>(~n >> 8));
    z.insert(z.end(), raw.begin() + static_cast<std::ptrdiff_t>(off),
             raw.begin() + static_cast<std::ptrdiff_t>(off + n));
    off += n;
    if (last) break;
  }
  for (std::uint8_t v : raw) {
    a = (a + v) % 65521;
    b = (b + a) % 65521;
  }
  detail::put32(z, (b << 16) | a);
  std::vector<std::uint8_t> out{0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  std::vector<std::uint8_t> ihdr;
  detail::put32(ihdr, width);
  detail::put32(ihdr, height);
  ihdr.insert(ihdr.end(), {8, static_cast<std::uint8_t>(channels == 3 ? 2 : 0), 0, 0, 0});  // 8-bit gray or RGB
  detail::chunk(out, "IHDR", ihdr);
  detail::chunk(out, "IDAT", z);
  detail::chunk(out, "IEND", {});
  return out;
}

inline std::vector<std::uint8_t> encode_gray(const std::vector<std::uint8_t>& pixels, std::uint32_t width,
                                             std::uint32_t height) {
  return encode(pixels, width, height, 1);
}

/// Maps floats in [lo, hi] to 0..255 and writes a PNG atomically.
inline void write_gray(const std::filesystem::path& path, const float* v, std::uint32_t width, std::uint32_t height,
                       float lo, float hi) {
  std::vector<std::uint8_t> px(static_cast<std::size_t>(width) * height);
  for (std::size_t i = 0; i < px.size(); ++i) {
    const float t = (v[i] - lo) / (hi - lo);
    px[i] = static_cast<std::uint8_t>(t <= 0.f ? 0 : t >= 1.f ? 255 : static_cast<int>(t * 255.f + 0.5f));
  }
  const auto bytes = encode_gray(px, width, height);
  write_text_atomically(path, [&](std::ostream& out) {
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  });
}

}  // namespace cadence::png
