#pragma once
// A run directory belongs to one run: an exclusive flock on <dir>/.lock for as long as a job runs.
// A second process that asks for the same directory fails at once, naming the holder's pid. Within
// one process the lock is shared (`seti run` is pretrain, finetune and predict in turn).
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>

#include "cadence/core/atomic_file.hpp"
#include "cadence/core/error.hpp"

namespace cadence {

class RunLock {
 public:
  explicit RunLock(const std::filesystem::path& dir) {
    namespace fs = std::filesystem;
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) fail(dir.string(), ": cannot create the run directory: ", ec.message());
    key_ = fs::weakly_canonical(dir, ec).string();
    std::lock_guard g(registry_mutex());
    auto& entry = registry()[key_];
    if (entry.count++ > 0) return;
    const auto file = dir / ".lock";
    entry.fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (entry.fd < 0) {
      registry().erase(key_);
      fail(file.string(), ": cannot open the run directory's lock: ", std::strerror(errno));
    }
    if (::flock(entry.fd, LOCK_EX | LOCK_NB) != 0) {
      char buf[32] = {};
      const auto n = ::pread(entry.fd, buf, sizeof buf - 1, 0);
      ::close(entry.fd);
      registry().erase(key_);
      std::string holder = n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "?";
      while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' ')) holder.pop_back();
      fail(dir.string(), ": in use by another run (pid ", holder, "); wait for it to end, or give this run another run.dir");
    }
    const std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(entry.fd, 0) != 0 || ::pwrite(entry.fd, pid.data(), pid.size(), 0) < 0) {
      // the lock holds without the pid; a second run then says "pid ?"
    }
    remove_stale_temporaries(dir);  // what killed runs left behind: nobody else can be writing now
  }
  ~RunLock() {
    std::lock_guard g(registry_mutex());
    auto it = registry().find(key_);
    if (it == registry().end() || --it->second.count > 0) return;
    ::close(it->second.fd);  // releases the flock
    registry().erase(it);
  }
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;

 private:
  struct Held {
    int fd = -1;
    int count = 0;
  };
  static std::map<std::string, Held>& registry() {
    static std::map<std::string, Held> r;
    return r;
  }
  static std::mutex& registry_mutex() {
    static std::mutex m;
    return m;
  }
  std::string key_;
};

}  // namespace cadence
