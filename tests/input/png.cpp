#include "cadence/data/png.hpp"

#include "support.hpp"

TEST_CASE("png: checksums match their standard check values") {
  const std::string s = "123456789";
  CHECK(cadence::png::detail::crc32(reinterpret_cast<const std::uint8_t*>(s.data()), s.size()) == 0xCBF43926u);
  const std::string iend = "IEND";
  CHECK(cadence::png::detail::crc32(reinterpret_cast<const std::uint8_t*>(iend.data()), 4) == 0xAE426082u);
}

TEST_CASE("png: a grayscale image round-trips through the stored-deflate stream") {
  const std::uint32_t w = 300, h = 250;  // > 65535 bytes: several stored blocks
  std::vector<std::uint8_t> px(w * h);
  for (std::size_t i = 0; i < px.size(); ++i) px[i] = static_cast<std::uint8_t>(i * 7 % 251);
  const auto bytes = cadence::png::encode_gray(px, w, h);
  REQUIRE(bytes.size() > 8);
  CHECK(std::equal(bytes.begin(), bytes.begin() + 8,
                   std::vector<std::uint8_t>{0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'}.begin()));
  // walk the chunks, checking each CRC, and inflate IDAT's stored blocks
  std::size_t pos = 8;
  std::vector<std::uint8_t> idat;
  std::vector<std::string> types;
  auto be32 = [&](std::size_t p) {
    return std::uint32_t(bytes[p]) << 24 | std::uint32_t(bytes[p + 1]) << 16 | std::uint32_t(bytes[p + 2]) << 8 |
           bytes[p + 3];
  };
  while (pos < bytes.size()) {
    const auto len = be32(pos);
    types.emplace_back(bytes.begin() + static_cast<std::ptrdiff_t>(pos + 4),
                       bytes.begin() + static_cast<std::ptrdiff_t>(pos + 8));
    CHECK(be32(pos + 8 + len) == cadence::png::detail::crc32(bytes.data() + pos + 4, len + 4));
    if (types.back() == "IDAT")
      idat.assign(bytes.begin() + static_cast<std::ptrdiff_t>(pos + 8),
                  bytes.begin() + static_cast<std::ptrdiff_t>(pos + 8 + len));
    pos += 12 + len;
  }
  CHECK(types == std::vector<std::string>{"IHDR", "IDAT", "IEND"});
  std::vector<std::uint8_t> raw;
  for (std::size_t p = 2; p + 4 < idat.size();) {
    const bool last = idat[p] & 1;
    const std::size_t n = idat[p + 1] | std::size_t(idat[p + 2]) << 8;
    CHECK((idat[p + 3] | std::size_t(idat[p + 4]) << 8) == (~n & 0xFFFF));
    raw.insert(raw.end(), idat.begin() + static_cast<std::ptrdiff_t>(p + 5),
               idat.begin() + static_cast<std::ptrdiff_t>(p + 5 + n));
    p += 5 + n;
    if (last) break;
  }
  REQUIRE(raw.size() == (w + 1) * h);
  for (std::uint32_t y = 0; y < h; ++y) {
    CHECK(raw[y * (w + 1)] == 0);
    REQUIRE(std::equal(px.begin() + y * w, px.begin() + (y + 1) * w, raw.begin() + y * (w + 1) + 1));
  }
}
