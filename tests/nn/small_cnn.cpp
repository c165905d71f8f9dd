#include "cadence/nn/gem.hpp"

#include "cadence/nn/small_cnn.hpp"
#include "support.hpp"

TEST_CASE("GeM: the generalised mean by hand, between the average and the maximum, and p learns") {
  torch::manual_seed(2);
  const auto x = torch::rand({2, 3, 5, 4}) + 0.1;
  cadence::GeM gem;
  CHECK(gem->p().item<float>() == 3.0f);
  const auto want = x.pow(3.0).mean({2, 3}).pow(1.0 / 3.0);  // by hand, p = 3
  CHECK(torch::allclose(gem->forward(x), want, 1e-5, 1e-6));
  cadence::GeM one(1.0);
  CHECK(torch::allclose(one->forward(x), x.mean({2, 3}), 1e-5, 1e-6));  // p = 1: the average
  cadence::GeM big(64.0);
  const auto mx = x.amax({2, 3});
  CHECK((big->forward(x) - mx).abs().max().item<float>() < 0.05f * mx.max().item<float>());  // large p: near the max
  CHECK((gem->forward(x) >= x.mean({2, 3}) - 1e-6).all().item<bool>());
  // negative activations are clamped (SiLU's dip), so the root is defined
  CHECK(torch::isfinite(gem->forward(x - 0.5)).all().item<bool>());
  gem->forward(x).sum().backward();
  CHECK(gem->p().grad().defined());
  CHECK(gem->p().grad().abs().item<float>() > 0.0f);
}

TEST_CASE("SmallCnn: global_pool gem adds one parameter, gem.p, and avg keeps the state dict as it was") {
  cadence::SmallCnnOptions o;
  auto keys = [](const cadence::SmallCnnOptions& opt) {
    cadence::SmallCnn net(opt, 1, 2);
    std::vector<std::string> k;
    for (const auto& p : net->named_parameters()) k.push_back(p.key());
    return k;
  };
  const auto avg = keys(o);
  o.global_pool = "gem";
  const auto gem = keys(o);
  CHECK(gem.size() == avg.size() + 1);
  CHECK(std::count(gem.begin(), gem.end(), "gem.p") == 1);
  CHECK(std::count(avg.begin(), avg.end(), "gem.p") == 0);
  cadence::SmallCnn net(o, 1, 2);
  CHECK(net->forward(torch::randn({2, 1, 64, 32})).sizes() == std::vector<std::int64_t>{2, 2});
}

TEST_CASE("SmallCnn: pool_freq pools frequency by its own factor") {
  auto first = [](const cadence::SmallCnnOptions& o) {
    cadence::SmallCnn net(o, 1, 2);
    return net->features->ptr<torch::nn::AvgPool2dImpl>(0)->forward(torch::ones({1, 1, 819, 256})).sizes().vec();
  };
  cadence::SmallCnnOptions o;
  o.pool = 4;
  CHECK(first(o) == std::vector<std::int64_t>{1, 1, 204, 64});  // as before: both axes by pool
  o.pool = 8;
  o.pool_freq = 2;
  CHECK(first(o) == std::vector<std::int64_t>{1, 1, 102, 128});  // time by 8, frequency by 2: the same pixels
  o.pool = 1;
  o.pool_freq = 1;
  cadence::SmallCnn whole(o, 1, 2);
  CHECK(whole->features->ptr<torch::nn::Conv2dImpl>(0));  // no pool at all: the conv comes first
}
