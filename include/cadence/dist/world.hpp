#pragma once
// Where this process stands in a data-parallel run, read the way PyTorch's launchers write it:
// torchrun (and torch.distributed.launch) set RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE,
// MASTER_ADDR and MASTER_PORT; cmake/slurm.sh maps SLURM's variables onto the same names. With none
// of them set the process is a world of one, as before. Light: no torch.
//
// The shard functions say which samples a rank reads. Training shards are padded as PyTorch's
// DistributedSampler pads (drop_last=False): the order is extended from its own start to a multiple of
// the world size and rank r takes positions r, r + W, r + 2W, ... so every rank runs the same number of
// batches (collectives never wait on a rank that has finished) and the ranks' k-th batches together
// are the k-th batch of one process with W times the batch. Evaluation shards are exact (no padding);
// the gathered predictions are put back in order.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "cadence/core/error.hpp"

namespace cadence::dist {

struct World {
  int rank = 0;
  int size = 1;
  int local_rank = 0;
  int local_size = 1;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;

  bool distributed() const { return size > 1; }
  bool leader() const { return rank == 0; }

  /// From the environment; a variable that is set but malformed is a one-line error naming it.
  static World from_env() {
    World w;
    auto number = [](const char* name, int lo, int hi, int fallback) {
      const char* v = std::getenv(name);
      if (v == nullptr || *v == '\0') return fallback;
      char* end = nullptr;
      const long n = std::strtol(v, &end, 10);
      if (*end != '\0' || n < lo || n > hi)
        fail("environment: ", name, "=`", std::string_view(v).substr(0, 32), "` is not an integer in [", lo, ", ", hi,
             "]");
      return static_cast<int>(n);
    };
    w.size = number("WORLD_SIZE", 1, 65536, 1);
    w.rank = number("RANK", 0, 65535, 0);
    if (w.rank >= w.size) fail("environment: RANK=", w.rank, " is not below WORLD_SIZE=", w.size);
    w.local_rank = number("LOCAL_RANK", 0, 65535, w.rank);
    w.local_size = number("LOCAL_WORLD_SIZE", 1, 65536, w.size);
    w.master_port = number("MASTER_PORT", 1, 65535, 29500);
    if (const char* a = std::getenv("MASTER_ADDR"); a != nullptr && *a != '\0')
      w.master_addr = a;
    else if (w.distributed())
      fail("environment: WORLD_SIZE=", w.size, " but MASTER_ADDR is not set (the address of rank 0; torchrun sets it)");
    return w;
  }
};

/// The positions rank `rank` of `world` takes from `order` after skipping its first `skip` (samples a
/// resumed epoch has done), padded from the start of `order` to a multiple of `world`.
inline std::vector<std::int64_t> train_shard(const std::vector<std::int64_t>& order, std::size_t skip, int rank,
                                             int world) {
  const std::size_t n = order.size(), from = skip < n ? skip : n, rest = n - from, w = static_cast<std::size_t>(world);
  const std::size_t padded = (rest + w - 1) / w * w;
  std::vector<std::int64_t> mine;
  mine.reserve(padded / w);
  for (std::size_t k = static_cast<std::size_t>(rank); k < padded; k += w)
    mine.push_back(k < rest ? order[from + k] : order[(k - rest) % n]);
  return mine;
}

/// Exact evaluation shard: positions rank, rank + W, ... of `indices`.
inline std::vector<std::int64_t> eval_shard(const std::vector<std::int64_t>& indices, int rank, int world) {
  std::vector<std::int64_t> mine;
  for (std::size_t k = static_cast<std::size_t>(rank); k < indices.size(); k += static_cast<std::size_t>(world))
    mine.push_back(indices[k]);
  return mine;
}

}  // namespace cadence::dist
