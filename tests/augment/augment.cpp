#include "cadence/augment/augment.hpp"

#include <cstring>
#include <sstream>

#include "augment/ops.hpp"
#include "cadence/data/load.hpp"
#include "support.hpp"

using test::always;
using test::Aug4;

namespace {
torch::Tensor batch_of(std::int64_t b, std::int64_t h = 64, std::int64_t w = 48, std::int64_t c = 1) {
  torch::manual_seed(1);
  return torch::randn({b, c, h, w});
}
}  // namespace

TEST_CASE("augment: prints like the pipeline expression and reads its options per op") {
  std::ostringstream os;
  os << (cadence::Load{} | Aug4{});
  CHECK(os.str() == "Load | Augment<VFlip, SSR, MotionBlur, SpecAug>");
  Aug4 a;
  cadence::config::read(
      nlohmann::json::parse(R"({"ssr": {"rotate_limit": 30, "border_mode": "constant"}, "vflip": {"p": 1}})"),
      a.options);
  CHECK(std::get<1>(a.options.ops).rotate_limit == 30.0);
  CHECK(std::get<1>(a.options.ops).border_mode == cadence::BorderMode::constant);
  CHECK(std::get<0>(a.options.ops).p == 1.0);
  const auto j = cadence::config::write(a.options);
  CHECK(j["motion_blur"]["blur_limit"] == 7);
  CHECK(j["spec_aug"]["alpha"] == 0.1);
  CHECK(j["ssr"]["shift_limit_x"].is_null());
}

TEST_CASE("augment: bad options are refused with the JSON path") {
  auto read = [](const char* text) {
    return [text] {
      Aug4 a;
      cadence::config::read(nlohmann::json::parse(text), a.options, "/augment");
    };
  };
  test::check_error(read(R"({"vflip": {"p": 1.5}})"), "/augment/vflip/p", "outside [0, 1]");
  test::check_error(read(R"({"ssr": {"p": -0.1}})"), "/augment/ssr/p");
  test::check_error(read(R"({"motion_blur": {"blur_limit": 6}})"), "/augment/motion_blur/blur_limit", "odd");
  test::check_error(read(R"({"motion_blur": {"blur_limit": 1}})"), "/augment/motion_blur/blur_limit", "minimum 3");
  test::check_error(read(R"({"ssr": {"rotate_limit": -5}})"), "/augment/ssr/rotate_limit");
  test::check_error(read(R"({"ssr": {"shift_limit": -0.1}})"), "/augment/ssr/shift_limit");
  test::check_error(read(R"({"ssr": {"shift_limit_y": -0.1}})"), "/augment/ssr/shift_limit_y");
  test::check_error(read(R"({"ssr": {"scale_limit": -0.1}})"), "/augment/ssr/scale_limit");
  test::check_error(read(R"({"spec_aug": {"alpha": 0}})"), "/augment/spec_aug/alpha", "greater than 0");
  test::check_error(read(R"({"spec_aug": {"alpha": -1}})"), "/augment/spec_aug/alpha");
  test::check_error(read(R"({"blur": {}})"), "/augment/blur", "unknown key");
}

TEST_CASE("augment: a sample's result does not depend on its batch, the batch size or the thread count") {
  const auto x = batch_of(6);
  const std::vector<std::int64_t> ids{10, 11, 12, 13, 14, 15};
  const Aug4 aug = always();
  auto whole = x.clone();
  aug.apply(whole, {7, 2, ids});
  CHECK_FALSE(torch::equal(whole, x));
  // the same samples in batches of 2, in another order
  for (std::int64_t s : {4, 0, 2}) {
    auto part = x.narrow(0, s, 2).clone();
    const std::vector<std::int64_t> sub{ids[static_cast<std::size_t>(s)], ids[static_cast<std::size_t>(s + 1)]};
    aug.apply(part, {7, 2, sub});
    CHECK(torch::equal(part, whole.narrow(0, s, 2)));
  }
  const int before = torch::get_num_threads();
  for (int threads : {1, 2}) {
    torch::set_num_threads(threads);
    auto again = x.clone();
    aug.apply(again, {7, 2, ids});
    CHECK(torch::equal(again, whole));
  }
  torch::set_num_threads(before);
  auto other_epoch = x.clone();
  aug.apply(other_epoch, {7, 3, ids});
  CHECK_FALSE(torch::equal(other_epoch, whole));
}

TEST_CASE("augment: the tensor path (any device) equals the CPU kernels") {
  const auto x = batch_of(5, 40, 33, 2);
  const std::vector<std::int64_t> ids{1, 2, 3, 4, 5};
  for (auto mode : {cadence::BorderMode::reflect_101, cadence::BorderMode::constant, cadence::BorderMode::replicate,
                    cadence::BorderMode::reflect}) {
    cadence::SSR ssr;
    ssr.options.p = 0.8;
    ssr.options.border_mode = mode;
    ssr.options.value = 0.25;
    const auto ps = cadence::draw_params(ssr, {3, 0, ids}, 1, 40, 33);
    auto a = x.clone(), b = x.clone();
    ssr.apply_cpu(a, ps);
    ssr.apply_tensor(b, ps);
    CHECK(torch::allclose(a, b, 1e-6, 1e-6));
  }
  cadence::MotionBlur mb;
  mb.options.p = 0.8;
  const auto ps = cadence::draw_params(mb, {3, 0, ids}, 2, 40, 33);
  auto a = x.clone(), b = x.clone();
  mb.apply_cpu(a, ps);
  mb.apply_tensor(b, ps);
  CHECK(torch::allclose(a, b, 1e-6, 1e-6));
}

TEST_CASE(
    "augment: SSR's constant border fills every channel with `value` (albumentations 1.0.3 fills channel 0 only)") {
  // A decision, not parity: OpenCV reads albumentations 1.0.3's scalar borderValue as (v, 0, 0, 0) per
  // chunk of 4 channels, so a 6-channel cadence would get v in panels 0 and 4 and 0 elsewhere.
  // cadence fills every channel, on the CPU kernel and the tensor path alike (docs/augment/ssr.md).
  const auto x = batch_of(2, 40, 33, 6);
  cadence::SSR ssr;
  ssr.options.border_mode = cadence::BorderMode::constant;
  ssr.options.value = 3.5;
  const std::vector<cadence::SSR::Params> ps{{true, 0.0, 1.0, 0.4, 0.0}, {true, 0.0, 1.0, 0.4, 0.0}};  // 40% right
  auto a = x.clone(), b = x.clone();
  ssr.apply_cpu(a, ps);
  ssr.apply_tensor(b, ps);
  for (const auto& t : {a, b}) {
    const auto left = t.narrow(3, 0, 12);  // the columns that came from outside the image
    CHECK(torch::all(left == 3.5f).item<bool>());
    CHECK_FALSE(torch::all(t.narrow(3, 20, 13) == 3.5f).item<bool>());  // the image itself moved right
  }
  CHECK(torch::equal(a, b));
}

TEST_CASE("augment: each op fires with its probability") {
  cadence::VFlip f;
  f.options.p = 0.3;
  std::vector<std::int64_t> ids(4000);
  std::iota(ids.begin(), ids.end(), 0);
  const auto ps = cadence::draw_params(f, {1, 0, ids}, 0, 8, 8);
  const auto fired = std::count_if(ps.begin(), ps.end(), [](const auto& p) { return p.apply; });
  CHECK(fired > 1100);
  CHECK(fired < 1300);
  cadence::MotionBlur mb;
  const auto mps = cadence::draw_params(mb, {1, 0, ids}, 2, 8, 8);
  std::set<int> sizes;
  for (const auto& p : mps) sizes.insert(p.ksize);
  CHECK(sizes == std::set<int>{3, 5, 7});
}

#ifdef CADENCE_SSR_AVX2
namespace {
__attribute__((target("avx2"))) void ssr_border_index8(const std::int32_t* in, std::int32_t* out, std::int64_t len,
                                                       cadence::BorderMode mode) {
  const __m256i v =
      cadence::ssr_detail::border_index8(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(in)), len, mode);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), v);
}
}  // namespace
#endif

TEST_CASE("augment: SSR's vector border index equals border_index() within one reflection") {
#ifdef CADENCE_SSR_AVX2
  if (!cadence::ssr_detail::has_avx2()) {
    MESSAGE("skipped: this CPU has no AVX2, so SSR runs only its scalar rows");
    return;
  }
  for (auto mode : {cadence::BorderMode::reflect_101, cadence::BorderMode::constant, cadence::BorderMode::replicate,
                    cadence::BorderMode::reflect})
    for (std::int64_t len : {1, 2, 3, 33, 256, 819}) {
      std::int64_t checked = 0;
      for (std::int64_t p = 1 - len; p <= 2 * len - 2; p += 8) {
        std::int32_t in[8], out[8];
        for (int k = 0; k < 8; ++k) in[k] = static_cast<std::int32_t>(std::min(p + k, 2 * len - 2));
        ssr_border_index8(in, out, len, mode);
        for (int k = 0; k < 8; ++k) {
          CAPTURE(len);
          CAPTURE(in[k]);
          REQUIRE(out[k] == cadence::border_index(in[k], len, mode));
          ++checked;
        }
      }
      CHECK(checked >= 3 * len - 2);
    }
#else
  MESSAGE("skipped: this build has no AVX2 path for SSR");
#endif
}

TEST_CASE("augment: SSR's vectorised rows equal its scalar rows bit for bit") {
  // Full-size planes (819 x 256), every border mode, angles up to 45 degrees: interior blocks take the
  // 8-wide path, blocks that touch the border reflect (clamp, fill) their coordinates in registers,
  // blocks more than one reflection out fall back to the scalar code. On a CPU without AVX2 there is no vector path to compare: it says so and skips.
#ifndef CADENCE_SSR_AVX2
  MESSAGE("skipped: this build has no AVX2 path for SSR");
  return;
#else
  if (!cadence::ssr_detail::has_avx2()) {
    MESSAGE("skipped: this CPU has no AVX2, so SSR runs only its scalar rows");
    return;
  }
  const std::int64_t H = 819, W = 256;
  const auto src = torch::randn({H, W});
  for (auto mode : {cadence::BorderMode::reflect_101, cadence::BorderMode::constant, cadence::BorderMode::replicate,
                    cadence::BorderMode::reflect})
    for (int k = 0; k < 8; ++k) {
      // the last two shift the image by most of its size: border blocks far outside
      cadence::SSR::Params p{true, -45.0 + 13.0 * k, 0.9 + 0.03 * k, k < 6 ? 0.05 - 0.02 * k : 0.9,
                             k < 6 ? -0.06 + 0.025 * k : -0.95};
      const auto m = cadence::SSR::inverse_matrix(p, H, W);
      std::vector<int> ad(static_cast<std::size_t>(W)), bd(static_cast<std::size_t>(W));
      for (std::int64_t c = 0; c < W; ++c) {
        ad[static_cast<std::size_t>(c)] =
            static_cast<int>(cadence::ssr_detail::cv_round(m[0] * static_cast<double>(c) * 1024));
        bd[static_cast<std::size_t>(c)] =
            static_cast<int>(cadence::ssr_detail::cv_round(m[3] * static_cast<double>(c) * 1024));
      }
      std::vector<float> fast(static_cast<std::size_t>(W)), slow(static_cast<std::size_t>(W));
      for (std::int64_t y = 0; y < H; y += 7) {
        const int X0 =
            static_cast<int>(cadence::ssr_detail::cv_round((m[1] * static_cast<double>(y) + m[2]) * 1024)) + 16;
        const int Y0 =
            static_cast<int>(cadence::ssr_detail::cv_round((m[4] * static_cast<double>(y) + m[5]) * 1024)) + 16;
        cadence::ssr_detail::Row r{src.data_ptr<float>(), fast.data(), X0, Y0, ad.data(), bd.data(), H, W, mode, 0.5f};
        cadence::ssr_detail::row_avx2(r);
        r.d = slow.data();
        cadence::ssr_detail::row_scalar(r, 0, W);
        REQUIRE(std::memcmp(fast.data(), slow.data(), fast.size() * sizeof(float)) == 0);
      }
    }
#endif
}
