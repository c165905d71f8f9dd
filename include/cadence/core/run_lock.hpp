#pragma once
// A run directory belongs to one run: an exclusive flock on <dir>/.lock for as long as a job runs.
// A second holder (another process, or another job in this one) fails at once, naming the holder's
// pid. `seti run` takes the directory once for its three jobs (recipes/run_dir.hpp).
//
// The lock file is opened with O_NOFOLLOW: a `.lock` planted as a symlink to a file elsewhere is
// refused, never written through.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <functional>
#include <string>

#include "cadence/core/atomic_file.hpp"
#include "cadence/core/error.hpp"

namespace cadence {

class RunLock {
 public:
  /// Takes `dir` (made if absent). `ours`: which temporaries of killed runs may be removed (core/atomic_file.hpp).
  explicit RunLock(const std::filesystem::path& dir, const std::function<bool(const std::string&)>& ours = {}) {
    namespace fs = std::filesystem;
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) fail(dir.string(), ": cannot create the run directory: ", ec.message());
    const auto file = dir / ".lock";
    if (fs::is_symlink(fs::symlink_status(file, ec)))
      fail(file.string(), ": a symbolic link; cadence writes nothing through links inside a run directory (remove it)");
    fd_ = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0644);
    if (fd_ < 0) fail(file.string(), ": cannot open the run directory's lock: ", std::strerror(errno));
    struct stat st {};
    if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd_);
      fail(file.string(), ": not a regular file (remove it)");
    }
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      char buf[32] = {};
      const auto n = ::pread(fd_, buf, sizeof buf - 1, 0);
      ::close(fd_);
      std::string holder = n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "?";
      while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' ')) holder.pop_back();
      fail(dir.string(), ": in use by another run (pid ", first_line(holder, 20),
           "); wait for it to end, or give this run another run.dir");
    }
    const std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, pid.data(), pid.size(), 0) < 0) {
      // the lock holds without the pid; a second run then says "pid ?"
    }
    try {
      remove_stale_temporaries(dir, ours);  // what killed runs left behind: nobody else can be writing now
    } catch (...) {
      ::close(fd_);  // the destructor will not run: release the lock here
      throw;
    }
  }
  ~RunLock() { ::close(fd_); }  // releases the flock
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace cadence
