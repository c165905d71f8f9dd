#pragma once
// The ranks of a data-parallel run as one c10d process group: PyTorch's own distributed engine, as
// LibTorch ships it (torch/csrc/distributed/c10d). Rank 0 hosts a TCPStore at MASTER_ADDR:MASTER_PORT
// for the rendezvous; collectives run over Gloo (CADENCE_HAS_GLOO: Gloo's headers were found, as
// Debian's libgloo-dev has them) and NCCL for CUDA devices (CADENCE_HAS_NCCL: nccl.h was found). Every collective has the run's timeout (run.dist_timeout), and a failure, a
// peer that exited or a timeout, is one line naming this rank; nothing waits for ever.
//
// A world of one has no group: current() is null and every caller takes its one-process path.
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <torch/types.h>

#include "cadence/core/error.hpp"
#include "cadence/dist/world.hpp"

#if CADENCE_HAS_GLOO || CADENCE_HAS_NCCL
#define CADENCE_HAS_C10D 1
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#endif
#if CADENCE_HAS_GLOO
#ifndef USE_C10D_GLOO
#define USE_C10D_GLOO 1
#endif
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#if CADENCE_HAS_NCCL
#ifndef USE_C10D_NCCL
#define USE_C10D_NCCL 1
#endif
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

namespace cadence::dist {

#if CADENCE_HAS_C10D
inline constexpr bool available = true;
using WorkHandle = c10::intrusive_ptr<c10d::Work>;
#else
inline constexpr bool available = false;
struct WorkHandle {};
#endif

class Group {
 public:
  /// Joins the rendezvous (rank 0 serves it) and makes the process group. `device`: where the
  /// collectives' tensors live (a CUDA device selects NCCL when the build has it).
  Group(const World& w, torch::Device device, std::chrono::milliseconds timeout)
      : world_(w), device_(torch::kCPU), timeout_(timeout) {
#if CADENCE_HAS_C10D
    guarded("rendezvous at " + w.master_addr + ":" + std::to_string(w.master_port), [&] {
      // torchrun's agent may host the store itself (TORCHELASTIC_USE_AGENT_STORE=True): then every
      // rank is a client, under the "/worker" prefix, as torch.distributed's env:// rendezvous does
      const char* agent = std::getenv("TORCHELASTIC_USE_AGENT_STORE");
      const bool agent_store = agent != nullptr && std::string(agent) == "True";
      c10d::TCPStoreOptions o;
      o.port = static_cast<std::uint16_t>(w.master_port);
      o.isServer = w.leader() && !agent_store;
      o.numWorkers = w.size;
      o.waitWorkers = false;  // Gloo's full-mesh connect waits for every rank (with the timeout); LibTorch 1.13's
                              // server-side wait never returns when a rank of the same process is its client
      o.timeout = timeout;
      auto tcp = c10::make_intrusive<c10d::TCPStore>(w.master_addr, o);
      if (agent_store)
        store_ = c10::make_intrusive<c10d::PrefixStore>("/worker", tcp);
      else
        store_ = tcp;
#if CADENCE_HAS_NCCL
      if (device.is_cuda()) {
        auto opts = c10d::ProcessGroupNCCL::Options::create();
        opts->timeout = timeout;
        nccl_ = c10::make_intrusive<c10d::ProcessGroupNCCL>(store_, w.rank, w.size, opts);
        device_ = device;
        backend_ = "nccl";
        return;
      }
#endif
#if CADENCE_HAS_GLOO
      auto opts = c10d::ProcessGroupGloo::Options::create(timeout);
      // as torch.distributed picks it: GLOO_SOCKET_IFNAME, loopback for a one-machine run, else the hostname's
      if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME"); ifname != nullptr && *ifname != '\0')
        opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
      else if (w.master_addr == "localhost" || w.master_addr.rfind("127.", 0) == 0)
        opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
      else
        opts->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
      gloo_ = c10::make_intrusive<c10d::ProcessGroupGloo>(store_, w.rank, w.size, opts);
      backend_ = "gloo";
#else
      fail("distributed: rank ", w.rank, ": this build has NCCL only (for \"cuda\" devices) and run.device is `", device.str(),
           "`; Gloo's headers (Debian: libgloo-dev) make CPU runs possible");
#endif
    });
#else
    (void)device;
    fail("environment: WORLD_SIZE=", w.size,
         " asks for a data-parallel run, but this build has neither Gloo nor NCCL "
         "(Debian: apt install libgloo-dev; CUDA: NCCL's nccl.h, see docs/distributed.md) and must be rebuilt");
#endif
  }

  const World& world() const { return world_; }
  int rank() const { return world_.rank; }
  int size() const { return world_.size; }
  bool leader() const { return world_.leader(); }
  const std::string& backend() const { return backend_; }
  /// Where the collectives' tensors must live (the CPU for Gloo).
  torch::Device device() const { return device_; }

  /// Sums `t` over the ranks, in place, and waits.
  void all_reduce(torch::Tensor& t, const char* what = "all-reduce") {
#if CADENCE_HAS_C10D
    auto on = t.to(device_).contiguous();
    std::vector<torch::Tensor> v{on};
    guarded(what, [&] { each([&](auto& pg) { pg->allreduce(v)->wait(timeout_); }); });
    if (!on.is_same(t)) t.copy_(on);
#else
    (void)t, (void)what;
#endif
  }

  /// Starts summing `flat` (contiguous, on device()) over the ranks; wait() on the handle.
  WorkHandle all_reduce_async(torch::Tensor& flat) {
#if CADENCE_HAS_C10D
    std::vector<torch::Tensor> v{flat};
    WorkHandle w;
    guarded("gradient all-reduce", [&] { each([&](auto& pg) { w = pg->allreduce(v); }); });
    return w;
#else
    (void)flat;
    return {};
#endif
  }
  void wait(WorkHandle& w, const char* what = "gradient all-reduce") {
#if CADENCE_HAS_C10D
    guarded(what, [&] { w->wait(timeout_); });
#else
    (void)w, (void)what;
#endif
  }

  /// Every rank's `t` (the same shape on all), in rank order.
  std::vector<torch::Tensor> all_gather(const torch::Tensor& t, const char* what = "all-gather") {
#if CADENCE_HAS_C10D
    std::vector<torch::Tensor> in{t.to(device_).contiguous()};
    std::vector<std::vector<torch::Tensor>> out(1);
    for (int r = 0; r < size(); ++r) out[0].push_back(torch::empty_like(in[0]));
    guarded(what, [&] { each([&](auto& pg) { pg->allgather(out, in)->wait(timeout_); }); });
    for (auto& o : out[0]) o = o.to(torch::kCPU);
    return out[0];
#else
    (void)what;
    return {t};
#endif
  }

  /// Rank `root`'s `t` on every rank, in place.
  void broadcast(torch::Tensor& t, int root = 0, const char* what = "broadcast") {
#if CADENCE_HAS_C10D
    auto on = t.to(device_).contiguous();
    std::vector<torch::Tensor> v{on};
    c10d::BroadcastOptions o;
    o.rootRank = root;
    guarded(what, [&] { each([&](auto& pg) { pg->broadcast(v, o)->wait(timeout_); }); });
    if (!on.is_same(t)) t.copy_(on);
#else
    (void)t, (void)root, (void)what;
#endif
  }

  /// Rank 0's bytes on every rank (a checkpoint read once, a config's fingerprint).
  std::string broadcast_bytes(std::string bytes, const char* what = "broadcast") {
    auto n = torch::tensor({static_cast<std::int64_t>(bytes.size())}, torch::kInt64);
    broadcast(n, 0, what);
    const auto size = static_cast<std::size_t>(n.item<std::int64_t>());
    auto buf = torch::zeros({static_cast<std::int64_t>(size)}, torch::kUInt8);
    if (leader() && size > 0) std::memcpy(buf.data_ptr<std::uint8_t>(), bytes.data(), size);
    if (size > 0) broadcast(buf, 0, what);
    bytes.resize(size);
    if (size > 0) std::memcpy(bytes.data(), buf.data_ptr<std::uint8_t>(), size);
    return bytes;
  }

  /// Waits for every rank (after rank 0 prepared the run directory, before a job ends).
  void barrier(const char* what = "barrier") {
    auto t = torch::zeros({1});
    all_reduce(t, what);
  }

  /// Fails on every rank unless all ranks hold the same `value` (their configs' fingerprint).
  void agree(const std::string& what, std::uint64_t value) {
    const auto all = all_gather(torch::tensor({static_cast<std::int64_t>(value)}, torch::kInt64), "agreement check");
    for (int r = 0; r < size(); ++r)
      if (all[static_cast<std::size_t>(r)].item<std::int64_t>() != static_cast<std::int64_t>(value))
        fail("distributed: rank ", r, "'s ", what, " differs from rank ", rank(),
             "'s; every rank must run the same config");
  }

 private:
  template <class F>
  void guarded(const std::string& what, F&& f) {
    try {
      f();
    } catch (const Error&) {
      throw;
    } catch (const std::exception& e) {
      fail(
          "distributed: rank ", rank(), " of ", size(), ": ", what, " failed (", first_line(e.what()),
          "); another rank exited, or the network failed or timed out (run.dist_timeout); see the other ranks' output");
    }
  }

  /// f(the backend): ProcessGroupGloo / ProcessGroupNCCL (a ProcessGroup in LibTorch 1.x, a Backend in 2.x).
  template <class F>
  void each(F&& f) {
#if CADENCE_HAS_NCCL
    if (nccl_) return f(nccl_);
#endif
#if CADENCE_HAS_GLOO
    if (gloo_) return f(gloo_);
#endif
    (void)f;
  }

  World world_;
  torch::Device device_;
  std::chrono::milliseconds timeout_;
  std::string backend_ = "none";
#if CADENCE_HAS_C10D
  c10::intrusive_ptr<c10d::Store> store_;
#endif
#if CADENCE_HAS_GLOO
  c10::intrusive_ptr<c10d::ProcessGroupGloo> gloo_;
#endif
#if CADENCE_HAS_NCCL
  c10::intrusive_ptr<c10d::ProcessGroupNCCL> nccl_;
#endif
};

namespace detail {
inline Group*& process_group() {
  static Group* g = nullptr;  // made once, never destroyed: its threads may outlive static destruction
  return g;
}
inline thread_local Group* thread_group = nullptr;
}  // namespace detail

/// The group this thread's jobs use: one made by init(), or a test's ScopedGroup; null in a world of one.
inline Group* current() { return detail::thread_group != nullptr ? detail::thread_group : detail::process_group(); }

/// Makes the process's group from the environment (once; later calls return it): null in a world of one.
inline Group* init(torch::Device device, std::chrono::milliseconds timeout) {
  if (detail::thread_group != nullptr) return detail::thread_group;
  auto& g = detail::process_group();
  if (g == nullptr) {
    const World w = World::from_env();
    if (!w.distributed()) return nullptr;
    g = new Group(w, device, timeout);
  }
  return g;
}

/// Makes `g` this thread's group for a scope (tests run several ranks as threads of one process).
class ScopedGroup {
 public:
  explicit ScopedGroup(Group* g) : prev_(detail::thread_group) { detail::thread_group = g; }
  ~ScopedGroup() { detail::thread_group = prev_; }
  ScopedGroup(const ScopedGroup&) = delete;
  ScopedGroup& operator=(const ScopedGroup&) = delete;

 private:
  Group* prev_;
};

inline bool leader() { return current() == nullptr || current()->leader(); }

/// Runs `f` on rank 0 alone (the run directory's lock, fingerprint and files); an error there becomes
/// the same one-line error on every rank. Every rank must call it at the same point.
template <class F>
void on_leader(F&& f) {
  Group* g = current();
  if (g == nullptr) return f();
  std::exception_ptr failed;
  std::string message;
  if (g->leader()) {
    try {
      f();
    } catch (const std::exception& e) {
      failed = std::current_exception();
      message = e.what();
      if (message.empty()) message = "rank 0 failed";
    }
  }
  message = g->broadcast_bytes(message, "rank 0's result");
  if (failed) std::rethrow_exception(failed);
  if (!message.empty()) fail("rank 0: ", first_line(message));
}

/// The bytes of `path` as rank 0 reads it, on every rank (no shared file system needed); nullopt when
/// rank 0 has no such file. Every rank must call it at the same point.
inline std::optional<std::string> read_on_leader(const std::filesystem::path& path) {
  auto read = [&]() -> std::optional<std::string> {
    std::ifstream in(path, std::ios::binary);
    if (!in) return std::nullopt;
    std::ostringstream s;
    s << in.rdbuf();
    return std::move(s).str();
  };
  Group* g = current();
  if (g == nullptr) return read();
  std::string packed;
  if (g->leader()) {
    auto bytes = read();
    packed = bytes ? "1" + *bytes : "0";
  }
  packed = g->broadcast_bytes(std::move(packed), "checkpoint broadcast");
  if (packed.empty() || packed[0] != '1') return std::nullopt;
  return packed.substr(1);
}
inline int rank() { return current() == nullptr ? 0 : current()->rank(); }
inline int size() { return current() == nullptr ? 1 : current()->size(); }

}  // namespace cadence::dist
