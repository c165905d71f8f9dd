// Data parallelism (include/cadence/dist): the environment, the shards, and two ranks run as threads
// of this process over a real c10d Gloo group on loopback, checked against one process with the
// whole batch. The two-process runs of the CLI (equivalence, a rank killed, resume on another world
// size) are tests/distributed.sh.
#include <doctest/doctest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <functional>
#include <map>
#include <set>
#include <thread>

#include "cadence/dist/data_parallel.hpp"
#include "cadence/dist/world.hpp"
#include "cadence/nn/small_cnn.hpp"
#include "cadence/train/trainer.hpp"
#include "support.hpp"

namespace {

using cadence::dist::World;

/// Sets environment variables for a scope, restoring what was there.
class Env {
 public:
  explicit Env(const std::map<std::string, std::string>& vars) {
    keys_ = {"RANK",
             "WORLD_SIZE",
             "LOCAL_RANK",
             "LOCAL_WORLD_SIZE",
             "MASTER_ADDR",
             "MASTER_PORT",
             "TORCHELASTIC_USE_AGENT_STORE"};
    for (const auto& [k, v] : vars) keys_.insert(k);
    for (const auto& k : keys_) {
      if (const char* v = std::getenv(k.c_str())) saved_[k] = v;
      ::unsetenv(k.c_str());
    }
    for (const auto& [k, v] : vars) ::setenv(k.c_str(), v.c_str(), 1);
  }
  ~Env() {
    for (const auto& k : keys_) ::unsetenv(k.c_str());
    for (const auto& [k, v] : saved_) ::setenv(k.c_str(), v.c_str(), 1);
  }

 private:
  std::set<std::string> keys_;
  std::map<std::string, std::string> saved_;
};

int free_port() {
  const int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  REQUIRE(::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  socklen_t len = sizeof a;
  ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(s);
  return ntohs(a.sin_port);
}

/// Runs f(group) on `world` ranks, each a thread with its own c10d group; rethrows the first failure.
void on_ranks(int world, const std::function<void(cadence::dist::Group&)>& f, int timeout_s = 60, int port = 0) {
  if (port == 0) port = free_port();
  std::vector<std::thread> threads;
  std::vector<std::exception_ptr> errors(static_cast<std::size_t>(world));
  for (int r = 0; r < world; ++r)
    threads.emplace_back([&, r] {
      try {
        World w;
        w.rank = r;
        w.size = world;
        w.master_port = port;
        cadence::dist::Group g(w, torch::kCPU, std::chrono::seconds(timeout_s));
        cadence::dist::ScopedGroup scope(&g);
        f(g);
      } catch (...) {
        errors[static_cast<std::size_t>(r)] = std::current_exception();
      }
    });
  for (auto& t : threads) t.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
}

cadence::SmallCnn tiny_net() {
  torch::manual_seed(7);
  cadence::SmallCnnOptions o;
  o.width = 4;
  o.depth = 2;
  o.pool = 1;
  o.dropout = 0.0;
  return cadence::SmallCnn(o, 2, 2);
}

}  // namespace

TEST_CASE("dist: the environment as torchrun writes it, none of it is a world of one") {
  {
    Env none({});
    const auto w = World::from_env();
    CHECK(w.size == 1);
    CHECK_FALSE(w.distributed());
    CHECK(w.leader());
  }
  {
    Env e({{"RANK", "3"},
           {"WORLD_SIZE", "8"},
           {"LOCAL_RANK", "1"},
           {"LOCAL_WORLD_SIZE", "2"},
           {"MASTER_ADDR", "node0"},
           {"MASTER_PORT", "29400"}});
    const auto w = World::from_env();
    CHECK(w.rank == 3);
    CHECK(w.size == 8);
    CHECK(w.local_rank == 1);
    CHECK(w.local_size == 2);
    CHECK(w.master_addr == "node0");
    CHECK(w.master_port == 29400);
    CHECK_FALSE(w.leader());
  }
  {
    Env e({{"RANK", "2"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "x"}});
    test::check_error([] { (void)World::from_env(); }, "RANK=2 is not below WORLD_SIZE=2");
  }
  {
    Env e({{"RANK", "one"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "x"}});
    test::check_error([] { (void)World::from_env(); }, "environment: RANK=`one` is not an integer");
  }
  {
    Env e({{"RANK", "0"}, {"WORLD_SIZE", "2"}});
    test::check_error([] { (void)World::from_env(); }, "MASTER_ADDR is not set");
  }
  {
    Env e({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "127.0.0.1"}, {"MASTER_PORT", "70000"}});
    test::check_error([] { (void)World::from_env(); }, "MASTER_PORT=`70000`");
  }
}

TEST_CASE("dist: training shards are DistributedSampler's, and resume from any world size") {
  std::vector<std::int64_t> order;
  for (int i = 0; i < 23; ++i) order.push_back(100 + (i * 7) % 23);
  for (int W : {1, 2, 3, 4, 8}) {
    // torch.utils.data.DistributedSampler(shuffle=False, drop_last=False): indices += indices[:pad]; indices[rank::W]
    auto padded = order;
    const std::size_t total = (order.size() + W - 1) / W * W;
    for (std::size_t k = 0; padded.size() < total; ++k) padded.push_back(order[k % order.size()]);
    std::multiset<std::int64_t> seen;
    for (int r = 0; r < W; ++r) {
      const auto mine = cadence::dist::train_shard(order, 0, r, W);
      REQUIRE(mine.size() == total / W);
      for (std::size_t j = 0; j < mine.size(); ++j) CHECK(mine[j] == padded[static_cast<std::size_t>(r) + j * W]);
      seen.insert(mine.begin(), mine.end());
    }
    for (auto i : order) CHECK(seen.count(i) >= 1);
    CHECK(seen.size() == total);
  }
  // the ranks' k-th batches of B together are the k-th batch of W*B in one process
  const int W = 2, B = 3;
  const auto r0 = cadence::dist::train_shard(order, 0, 0, W), r1 = cadence::dist::train_shard(order, 0, 1, W);
  for (std::size_t k = 0; k * B < r0.size(); ++k) {
    std::set<std::int64_t> both, one;
    for (std::size_t j = k * B; j < std::min(r0.size(), (k + 1) * B); ++j) both.insert({r0[j], r1[j]});
    for (std::size_t j = k * B * W; j < std::min(order.size(), (k + 1) * B * W); ++j) one.insert(order[j]);
    if ((k + 1) * B * W <= order.size()) CHECK(both == one);
  }
  // resumed on the same world size after 2 global batches: the rest of each rank's shard, exactly
  const std::size_t done = 2 * B * W;
  for (int r = 0; r < W; ++r) {
    const auto whole = cadence::dist::train_shard(order, 0, r, W), rest = cadence::dist::train_shard(order, done, r, W);
    REQUIRE(rest.size() == whole.size() - 2 * B);
    CHECK(std::equal(rest.begin(), rest.end(), whole.begin() + 2 * B));
  }
  // resumed on another world size: every sample not yet done, once, and equal shard sizes
  std::multiset<std::int64_t> rest3;
  for (int r = 0; r < 3; ++r) {
    const auto mine = cadence::dist::train_shard(order, done, r, 3);
    CHECK(mine.size() == (order.size() - done + 2) / 3);
    rest3.insert(mine.begin(), mine.end());
  }
  for (std::size_t i = done; i < order.size(); ++i) CHECK(rest3.count(order[i]) >= 1);
  CHECK(cadence::dist::train_shard(order, 1000, 0, 2).empty());
}

TEST_CASE("dist: evaluation shards are exact") {
  std::vector<std::int64_t> idx{5, 6, 7, 8, 9};
  CHECK(cadence::dist::eval_shard(idx, 0, 2) == std::vector<std::int64_t>{5, 7, 9});
  CHECK(cadence::dist::eval_shard(idx, 1, 2) == std::vector<std::int64_t>{6, 8});
  CHECK(cadence::dist::eval_shard(idx, 5, 8).empty());
}

TEST_CASE("dist: two ranks x batch B = one process x batch 2B (bucketed all-reduce, SyncBatchNorm, accumulation)") {
  torch::manual_seed(3);
  const auto x = torch::randn({8, 2, 16, 16}), y = torch::randint(0, 2, {8}, torch::kInt64);
  // one process, the whole batch, two accumulation steps of 4 (the loss of each halved, as Fit does)
  auto ref = tiny_net();
  ref->train();
  for (int k = 0; k < 2; ++k)
    (torch::nn::functional::cross_entropy(ref->forward(x.narrow(0, 4 * k, 4)), y.narrow(0, 4 * k, 4)) / 2.0).backward();
  std::map<std::string, torch::Tensor> want;
  for (auto& item : ref->named_parameters()) want[item.key()] = item.value().grad().clone();
  for (auto& item : ref->named_buffers()) want["buffer." + item.key()] = item.value().clone();

  for (std::int64_t bucket : {std::int64_t{256}, std::int64_t{25} << 20}) {  // many small buckets, and one
    CAPTURE(bucket);
    std::vector<std::map<std::string, torch::Tensor>> got(2);
    std::vector<cadence::SmallCnn> nets{tiny_net(), tiny_net()};  // here: torch's generator is the process's
    on_ranks(2, [&](cadence::dist::Group& g) {
      auto& net = nets[static_cast<std::size_t>(g.rank())];
      if (g.rank() == 1) {  // rank 1 starts from other weights: the broadcast must replace them
        torch::NoGradGuard no;
        for (auto& p : net->parameters()) p.add_(1.0);
      }
      cadence::dist::broadcast_module(g, *net);
      net->train();
      cadence::dist::GradReducer reducer(g, net->parameters(), bucket);
      cadence::dist::SyncBatchNorm sync(g);
      for (int k = 0; k < 2; ++k) {  // rank r's part of micro-batch k: rows 4k + r, 4k + r + 2
        const auto rows = torch::tensor({4 * k + g.rank(), 4 * k + g.rank() + 2});
        if (k == 1) reducer.arm();  // only the window's last backward reduces
        (torch::nn::functional::cross_entropy(net->forward(x.index_select(0, rows)), y.index_select(0, rows)) / 2.0)
            .backward();
        reducer.finish();
      }
      auto& mine = got[static_cast<std::size_t>(g.rank())];
      for (auto& item : net->named_parameters()) mine[item.key()] = item.value().grad().clone();
      for (auto& item : net->named_buffers()) mine["buffer." + item.key()] = item.value().clone();
    });
    for (int r = 0; r < 2; ++r)
      for (const auto& [k, w] : want) {
        CAPTURE(k);
        CAPTURE(r);
        const auto& v = got[static_cast<std::size_t>(r)].at(k);
        if (!w.is_floating_point())
          CHECK(torch::equal(v, w));
        else
          CHECK(torch::allclose(v, w, 1e-4, 1e-6));
      }
  }
}

TEST_CASE("dist: without SyncBatchNorm each rank normalises its own batch (the per-rank default differs)") {
  torch::manual_seed(4);
  const auto x = torch::randn({4, 2, 8, 8}) * torch::tensor({1.0f, 3.0f, 1.0f, 3.0f}).view({4, 1, 1, 1});
  auto ref = tiny_net();
  ref->train();
  ref->forward(x);
  const auto want = ref->features[1]->as<cadence::BatchNorm2dImpl>()->running_var.clone();
  std::vector<torch::Tensor> got(2);
  std::vector<cadence::SmallCnn> nets{tiny_net(), tiny_net()};
  on_ranks(2, [&](cadence::dist::Group& g) {
    auto& net = nets[static_cast<std::size_t>(g.rank())];
    net->train();
    net->forward(x.narrow(0, 2 * g.rank(), 2));
    got[static_cast<std::size_t>(g.rank())] = net->features[1]->as<cadence::BatchNorm2dImpl>()->running_var.clone();
  });
  CHECK_FALSE(torch::allclose(got[0], want, 1e-3, 1e-5));
  CHECK_FALSE(torch::allclose(got[0], got[1], 1e-3, 1e-5));
}

TEST_CASE("dist: rank 0's error is every rank's, and ranks with different configs refuse to start") {
  std::vector<std::string> messages(2);
  CHECK_THROWS(on_ranks(2, [&](cadence::dist::Group& g) {
    try {
      cadence::dist::on_leader([] { cadence::fail("runs/x: held by another run"); });
    } catch (const std::exception& e) {
      messages[static_cast<std::size_t>(g.rank())] = e.what();
      throw;
    }
  }));
  CHECK(messages[0] == "runs/x: held by another run");
  CHECK(messages[1] == "rank 0: runs/x: held by another run");

  messages.assign(2, "");
  CHECK_THROWS(on_ranks(2, [&](cadence::dist::Group& g) {
    try {
      g.agree("config", g.rank() == 0 ? 11u : 12u);
    } catch (const std::exception& e) {
      messages[static_cast<std::size_t>(g.rank())] = e.what();
      throw;
    }
  }));
  CHECK(messages[0].find("rank 1's config differs from rank 0's") != std::string::npos);
  CHECK(messages[1].find("rank 0's config differs from rank 1's") != std::string::npos);
}

TEST_CASE("dist: rank 0's file on every rank, gathered predictions in order") {
  test::TempDir dir;
  const auto file = dir.path / "weights.bin";
  { std::ofstream(file) << "rank zero's bytes"; }
  on_ranks(3, [&](cadence::dist::Group& g) {
    const auto bytes = cadence::dist::read_on_leader(g.leader() ? file : dir.path / "absent-elsewhere");
    REQUIRE(bytes.has_value());
    CHECK(*bytes == "rank zero's bytes");
    CHECK_FALSE(cadence::dist::read_on_leader(dir.path / "nothing").has_value());
    auto t = torch::full({2}, static_cast<double>(g.rank()), torch::kFloat64);
    const auto all = g.all_gather(t);
    REQUIRE(all.size() == 3);
    for (int r = 0; r < 3; ++r) CHECK(all[static_cast<std::size_t>(r)][1].item<double>() == r);
  });
}

TEST_CASE("dist: a rank that never joins is an error within the timeout, not a hang") {
  const auto t0 = std::chrono::steady_clock::now();
  World w;
  w.rank = 1;  // a client whose server (rank 0) never comes
  w.size = 2;
  w.master_port = free_port();
  std::string message;
  try {
    cadence::dist::Group g(w, torch::kCPU, std::chrono::seconds(2));
  } catch (const std::exception& e) {
    message = e.what();
  }
  CHECK(message.find("distributed: rank 1 of 2: rendezvous at 127.0.0.1:") == 0);
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(30));
}

TEST_CASE("dist: train.lr_base_size makes the learning rate follow the global batch, as timm's --lr-base-size") {
  cadence::TrainOptions t;
  t.lr = 1e-3;
  t.batch_size = 32;
  CHECK(cadence::for_global_batch(t, 8).lr == doctest::Approx(1e-3));  // off by default: lr is the global batch's
  t.lr_base_size = 256;
  CHECK(cadence::for_global_batch(t, 8).lr == doctest::Approx(1e-3));  // 32 x 8 = 256
  CHECK(cadence::for_global_batch(t, 2).lr == doctest::Approx(2.5e-4));
  t.accumulate = 4;
  CHECK(cadence::for_global_batch(t, 2).lr == doctest::Approx(1e-3));
  t.accumulate = 1;
  t.lr_base_scale = cadence::LrScale::sqrt;
  CHECK(cadence::for_global_batch(t, 2).lr == doctest::Approx(5e-4));
  CHECK(cadence::for_global_batch(t, 32).lr == doctest::Approx(2e-3));
}

TEST_CASE("dist: under torchrun's agent store (TORCHELASTIC_USE_AGENT_STORE=True) every rank is a client of it") {
  const int port = free_port();
  c10d::TCPStoreOptions o;  // the launcher's store, as torchrun's agent holds it
  o.port = static_cast<std::uint16_t>(port);
  o.isServer = true;
  o.waitWorkers = false;
  o.timeout = std::chrono::seconds(20);
  auto agent = c10::make_intrusive<c10d::TCPStore>("127.0.0.1", o);
  Env env(std::map<std::string, std::string>{{"TORCHELASTIC_USE_AGENT_STORE", "True"}});
  const auto keys_before = agent->getNumKeys();
  on_ranks(
      2,
      [](cadence::dist::Group& g) {  // a rank 0 that tried to serve the port would fail: it is taken
        auto t = torch::ones({3});
        g.all_reduce(t);
        CHECK(t[2].item<float>() == 2.0f);
      },
      20, port);
  CHECK(agent->getNumKeys() > keys_before);  // the ranks met in the launcher's store
}
