// Augment ops against albumentations 1.0.3 + OpenCV 4.5.5 themselves
// (tests/data/make_albumentations_fixture.py): interpolating ops within 1e-4, flips exactly.
#include <nlohmann/json.hpp>

#include "cadence/augment/augment.hpp"
#include "cadence/data/npy.hpp"
#include "support.hpp"

using nlohmann::json;

namespace {
torch::Tensor load(const std::string& file) {
  std::vector<float> v;
  const auto h = cadence::npy::read_f32(test::fixture("albumentations/" + file), {}, v);
  return torch::tensor(v).view(h.shape);
}
cadence::BorderMode border(const json& j) {
  const std::string s = j;
  for (auto [mode, name] : enum_names(cadence::BorderMode{}))
    if (name == s) return mode;
  FAIL("unknown border mode " << s);
  return cadence::BorderMode::constant;
}
}  // namespace

TEST_CASE("parity: VFlip, SSR and MotionBlur match albumentations 1.0.3") {
  const auto fixture = json::parse(test::read_file(test::fixture("albumentations/cases.json")));
  int counted[3] = {0, 0, 0};
  for (const auto& c : fixture["cases"]) {
    const std::string op = c["op"], out = c["output"];
    CAPTURE(out);
    const auto input =
        load(c["image"]).select(0, c["index"].get<std::int64_t>()).unsqueeze(0).contiguous();  // (1,C,H,W)
    const auto want = load(out).unsqueeze(0);
    const auto& p = c["params"];
    auto check = [&](auto&& apply_to) {  // the CPU kernel and the any-device tensor path
      for (int path = 0; path < 2; ++path) {
        CAPTURE(path);
        auto x = input.clone();
        apply_to(x, path);
        const double err = (x - want).abs().max().item<double>();
        if (op == "vflip")
          CHECK(err == 0.0);
        else
          CHECK(err < 1e-4);
      }
    };
    if (op == "vflip") {
      ++counted[0];
      check([](torch::Tensor& x, int) { cadence::VFlip{}.apply(x, {{true}}); });
    } else if (op == "ssr") {
      ++counted[1];
      cadence::SSR ssr;
      ssr.options.border_mode = border(p["border_mode"]);
      ssr.options.value = p["value"].is_null() ? 0.0 : p["value"].get<double>();
      const cadence::SSR::Params params{true, p["angle"], p["scale"], p["dx"], p["dy"]};
      // the inverse matrix cv2.warpAffine derives
      const auto inv = cadence::SSR::inverse_matrix(params, input.size(2), input.size(3));
      for (int k = 0; k < 6; ++k)
        CHECK(inv[static_cast<std::size_t>(k)] ==
              doctest::Approx(p["inverse"][k / 3][k % 3].get<double>()).epsilon(1e-12));
      check(
          [&](torch::Tensor& x, int path) { path == 0 ? ssr.apply_cpu(x, {params}) : ssr.apply_tensor(x, {params}); });
    } else if (op == "motion_blur") {
      ++counted[2];
      const auto params = cadence::MotionBlur::kernel(p["ksize"], p["xs"], p["ys"], p["xe"], p["ye"]);
      cadence::MotionBlur mb;
      check([&](torch::Tensor& x, int path) { path == 0 ? mb.apply_cpu(x, {params}) : mb.apply_tensor(x, {params}); });
    }
  }
  CHECK(counted[0] == 2);
  CHECK(counted[1] == 16);
  CHECK(counted[2] == 12);
}

TEST_CASE("parity: the motion kernel's line is cv2.line's for every pair of endpoints") {
  const auto lines = json::parse(test::read_file(test::fixture("albumentations/lines.json")));
  for (int k : {3, 5, 7}) {
    const auto& kernels = lines["kernels"][std::to_string(k)];
    REQUIRE(kernels.size() == static_cast<std::size_t>(k * k * k * k));
    for (int xs = 0; xs < k; ++xs)
      for (int ys = 0; ys < k; ++ys)
        for (int xe = 0; xe < k; ++xe)
          for (int ye = 0; ye < k; ++ye) {
            std::string ours(static_cast<std::size_t>(k * k), '0');
            for (auto [x, y] : cadence::line_pixels(xs, ys, xe, ye)) ours[static_cast<std::size_t>(y * k + x)] = '1';
            const std::string theirs = kernels[static_cast<std::size_t>(((xs * k + ys) * k + xe) * k + ye)];
            INFO("k=", k, " (", xs, ",", ys, ")-(", xe, ",", ye, ")");
            REQUIRE(ours == theirs);
          }
  }
}

TEST_CASE("parity: SpecAug zeroes exactly its two bands") {
  torch::manual_seed(3);
  const auto x = torch::randn({2, 2, 10, 8});
  auto y = x.clone();
  cadence::SpecAug{}.apply(y, {{true, 2, 3, 5, 2}, {false, 0, 1, 0, 1}});
  for (std::int64_t c = 0; c < 2; ++c)
    for (std::int64_t r = 0; r < 10; ++r)
      for (std::int64_t q = 0; q < 8; ++q) {
        const bool band = (r >= 2 && r < 5) || (q >= 5 && q < 7);
        CHECK(y[0][c][r][q].item<float>() == (band ? 0.f : x[0][c][r][q].item<float>()));
      }
  CHECK(torch::equal(y[1], x[1]));
  // drawn bands never exceed alpha * size and stay inside the image
  cadence::SpecAug s;
  std::vector<std::int64_t> ids(500);
  std::iota(ids.begin(), ids.end(), 0);
  for (const auto& p : cadence::draw_params(s, {1, 0, ids}, 3, 819, 256)) {
    CHECK(p.rows <= 81);
    CHECK(p.cols <= 25);
    CHECK(p.row + p.rows <= 819);
    CHECK(p.col + p.cols <= 256);
  }
}
