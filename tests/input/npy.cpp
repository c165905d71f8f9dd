#include "cadence/data/npy.hpp"

#include <nlohmann/json.hpp>

#include "support.hpp"

namespace npy = cadence::npy;

namespace {
std::vector<float> expected_values() {
  const auto j = nlohmann::json::parse(test::read_file(test::fixture("npy/expected.json")));
  return j["values_f2_v1"].get<std::vector<float>>();
}
}  // namespace

TEST_CASE("npy: reads numpy's own float16 files (format 1.0 and 2.0) and float32") {
  const auto want = expected_values();
  const std::int64_t shape[] = {6, 4, 8};
  std::vector<float> got;
  for (const char* f : {"npy/f2_v1.npy", "npy/f2_v2.npy"}) {
    CAPTURE(f);
    const auto h = npy::read_f32(test::fixture(f), shape, got);
    CHECK(h.dtype == npy::Dtype::f2);
    REQUIRE(got.size() == want.size());
    CHECK(std::equal(got.begin(), got.end(), want.begin(), [](float a, float b) {
      return std::bit_cast<std::uint32_t>(a) == std::bit_cast<std::uint32_t>(b);
    }));
  }
  const auto h = npy::read_f32(test::fixture("npy/f4_v1.npy"), {}, got);
  CHECK(h.dtype == npy::Dtype::f4);
  CHECK(h.shape == std::vector<std::int64_t>{6, 4, 8});
  for (std::size_t i = 0; i < want.size(); ++i) CHECK(got[i] == want[i] * 1.5f);
}

TEST_CASE("npy: write then read gives the same bits, and numpy's header layout") {
  test::TempDir dir("npy");
  const std::int64_t shape[] = {2, 3};
  const std::vector<std::uint16_t> bits{0x3C00, 0xBC00, 0x0001, 0x7BFF, 0x0000, 0x8000};
  npy::write_f16(dir / "a.npy", shape, bits);
  const std::string bytes = test::read_file(dir / "a.npy");
  CHECK(bytes.size() == 128 + 12);  // header padded to 64 bytes
  CHECK(bytes.substr(10, 61) == "{'descr': '<f2', 'fortran_order': False, 'shape': (2, 3), }  ");
  std::vector<float> got;
  npy::read_f32(dir / "a.npy", shape, got);
  CHECK(got == std::vector<float>{1.0f, -1.0f, 0x1p-24f, 65504.0f, 0.0f, -0.0f});
}

TEST_CASE("npy: refuses what it cannot read, naming the file") {
  test::TempDir dir("npybad");
  std::vector<float> out;
  const std::int64_t shape[] = {6, 4, 8};
  auto read = [&](const std::filesystem::path& p) { return [&out, p, &shape] { npy::read_f32(p, shape, out); }; };
  test::check_error(read(test::fixture("npy/f8.npy")), "f8.npy", "'<f8'", "not supported");
  test::check_error(read(test::fixture("npy/f2_big_endian.npy")), "f2_big_endian.npy", "big-endian");
  test::check_error(read(test::fixture("npy/f2_fortran.npy")), "f2_fortran.npy", "Fortran order");
  test::check_error(read(dir / "missing.npy"), "missing.npy", "cannot open");

  const std::string good = test::read_file(test::fixture("npy/f2_v1.npy"));
  test::write_file(dir / "trunc.npy", good.substr(0, good.size() - 10));
  test::check_error(read(dir / "trunc.npy"), "trunc.npy", "truncated", "needs 512 bytes, the file has 502");
  test::write_file(dir / "trunc_header.npy", good.substr(0, 40));
  test::check_error(read(dir / "trunc_header.npy"), "trunc_header.npy", "truncated npy header");
  test::write_file(dir / "magic.npy", "PK\x03\x04 not numpy at all");
  test::check_error(read(dir / "magic.npy"), "magic.npy", "bad magic");
  std::string v3 = good;
  v3[6] = '\x03';
  test::write_file(dir / "v3.npy", v3);
  test::check_error(read(dir / "v3.npy"), "v3.npy", "version 3.0");

  // A header that claims ~10^18 elements: refused from the file size, nothing allocated.
  test::write_file(
      dir / "huge.npy",
      cadence::npy::frame_header("{'descr': '<f2', 'fortran_order': False, 'shape': (1000000000, 1000000000), }") +
          "xx");
  test::check_error(read(dir / "huge.npy"), "huge.npy", "truncated", "the file has");
  test::write_file(
      dir / "absurd.npy",
      cadence::npy::frame_header("{'descr': '<f2', 'fortran_order': False, 'shape': (99999999999999999999,), }"));
  test::check_error(read(dir / "absurd.npy"), "absurd.npy", "implausibly large");
  CHECK(out.capacity() < 1000);
  // a key given twice (numpy would take the last one): refused, whichever comes first
  test::write_file(
      dir / "two_descr.npy",
      cadence::npy::frame_header("{'descr': '<f2', 'descr': '<f4', 'fortran_order': False, 'shape': (6, 4, 8), }") +
          std::string(6 * 4 * 8 * 4, '\0'));
  test::check_error(read(dir / "two_descr.npy"), "two_descr.npy", "'descr' twice");
  test::write_file(
      dir / "two_shape.npy",
      cadence::npy::frame_header("{'descr': '<f2', 'fortran_order': False, 'shape': (6, 4, 8), 'shape': (6, 4, 8), }") +
          std::string(6 * 4 * 8 * 2, '\0'));
  test::check_error(read(dir / "two_shape.npy"), "two_shape.npy", "'shape' twice");

  const std::int64_t other[] = {6, 273, 256};
  test::check_error([&] { npy::read_f32(test::fixture("npy/f2_v1.npy"), other, out); }, "f2_v1.npy",
                    "shape (6, 4, 8), expected (6, 273, 256)");
}

TEST_CASE("npy: read_slices reads every step-th slice of the first axis and leaves the others unread") {
  const std::int64_t shape[] = {6, 4, 8};
  std::vector<char> whole, part;
  const auto h = npy::read_raw(test::fixture("npy/f2_v1.npy"), whole);
  part.assign(whole.size(), '\x55');
  const auto hs = npy::read_slices(test::fixture("npy/f2_v1.npy"), shape, 2, part);
  CHECK(hs.data_offset == h.data_offset);
  REQUIRE(part.size() == whole.size());
  const std::size_t slice = 4 * 8 * 2;
  for (std::size_t k = 0; k < 6; ++k) {
    CAPTURE(k);
    const auto at = static_cast<std::ptrdiff_t>(h.data_offset + k * slice);
    const bool same =
        std::equal(part.begin() + at, part.begin() + at + static_cast<std::ptrdiff_t>(slice), whole.begin() + at);
    const bool untouched = std::all_of(part.begin() + at, part.begin() + at + static_cast<std::ptrdiff_t>(slice),
                                       [](char c) { return c == '\x55'; });
    CHECK(same == (k % 2 == 0));
    CHECK(untouched == (k % 2 == 1));
  }
  // the shape is checked before any data is read
  const std::int64_t other[] = {6, 273, 256};
  test::check_error([&] { npy::read_slices(test::fixture("npy/f2_v1.npy"), other, 2, part); }, "f2_v1.npy",
                    "shape (6, 4, 8), expected (6, 273, 256)");
}

TEST_CASE("npy: a header longer than the first 4 KiB read is read whole") {
  test::TempDir dir("npylong");
  const std::int64_t shape[] = {2, 3};
  const std::vector<std::uint16_t> bits{0x3C00, 0xBC00, 0x0001, 0x7BFF, 0x0000, 0x8000};
  const std::string data(reinterpret_cast<const char*>(bits.data()), bits.size() * 2);
  test::write_file(
      dir / "long.npy",
      npy::frame_header("{'descr': '<f2', 'fortran_order': False, 'shape': (2, 3), }" + std::string(6000, ' ')) + data);
  std::vector<float> got;
  const auto h = npy::read_f32(dir / "long.npy", shape, got);
  CHECK(h.data_offset > 6000);
  CHECK(got == std::vector<float>{1.0f, -1.0f, 0x1p-24f, 65504.0f, 0.0f, -0.0f});
}

TEST_CASE("npy: a FIFO or a directory in place of a file is refused at once, named, not waited on") {
  test::TempDir dir("npyfifo");
  const auto fifo = dir / "fifo.npy";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  std::vector<char> buffer;
  const std::int64_t shape[] = {6, 4, 8};
  test::check_error([&] { npy::read_slices(fifo, shape, 2, buffer); }, "fifo.npy", "not a regular file");
  test::check_error([&] { npy::read_header(fifo); }, "fifo.npy", "not a regular file");
  test::check_error([&] { npy::read_header(dir.path); }, "not a regular file");
}
