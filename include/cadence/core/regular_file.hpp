#pragma once
// Input files must be regular files. A FIFO opened for reading blocks until a writer comes (forever,
// for a planted one), and a device (/dev/zero) reads without end: both are refused in one line before
// any read. The check opens without blocking (O_NONBLOCK) and asks the open descriptor, so a symlink
// to a FIFO is refused as well and nothing can swap the file between the check and the read.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>

#include "cadence/core/error.hpp"

namespace cadence {

/// Opens `path` for reading and returns the descriptor (O_CLOEXEC, blocking reads again); fails, naming
/// `where` (the file, or a JSON path and the file), when it cannot be opened or is not a regular file.
inline int open_regular_file(const std::filesystem::path& path, const std::string& where) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) fail(where, ": cannot open (", std::strerror(errno), ")");
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    const bool dir = S_ISDIR(st.st_mode), fifo = S_ISFIFO(st.st_mode);
    ::close(fd);
    fail(where, ": not a regular file", dir ? " (a directory)" : fifo ? " (a FIFO)" : "");
  }
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0) (void)::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  return fd;
}

/// Fails (as open_regular_file) unless `path` is a regular file; for readers that open it themselves.
inline void require_regular_file(const std::filesystem::path& path, const std::string& where) {
  ::close(open_regular_file(path, where));
}

}  // namespace cadence
