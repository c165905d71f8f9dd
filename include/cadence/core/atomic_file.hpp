#pragma once
// Outputs are written to a temporary file beside the target and renamed into place, so a crash or
// an error mid-write never leaves a half-written checkpoint, submission or report behind.
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <functional>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>

#include "cadence/core/error.hpp"

namespace cadence {

/// The temporary name write_atomically uses for `path` in this process.
inline std::filesystem::path temporary_name(const std::filesystem::path& path) {
  return path.string() + ".tmp." + std::to_string(::getpid());
}

/// Calls write(tmp_path), then renames tmp_path to `path`. On any failure (disk full, permission,
/// a read-only directory) the temp file is removed, the previous `path` (if any) is left untouched,
/// and the error is one line naming `path`.
template <class F>
void write_atomically(const std::filesystem::path& path, F&& write) {
  namespace fs = std::filesystem;
  const fs::path tmp = temporary_name(path);
  try {
    if (path.has_parent_path()) fs::create_directories(path.parent_path());
    std::error_code planted;
    fs::remove(tmp, planted);  // a link planted under the temporary name is removed, not written through
    write(tmp);
    std::error_code ec;
    fs::rename(tmp, path, ec);
    if (ec) fail(path.string(), ": cannot move the finished file into place: ", ec.message());
  } catch (const Error&) {
    std::error_code ec;
    fs::remove(tmp, ec);
    throw;
  } catch (const std::exception& e) {
    std::error_code ec;
    fs::remove(tmp, ec);
    fail(path.string(), ": cannot write (", first_line(e.what()), "); the previous file, if any, is unchanged");
  }
}

/// Removes the temporary files that killed runs left under `dir` (`<name>.tmp.<pid>` whose process is
/// gone, and, when `ours` is given, whose <name> it accepts: a file cadence writes); returns how many.
/// Links are not followed. Call it only while holding the directory's lock (core/run_lock.hpp).
inline int remove_stale_temporaries(const std::filesystem::path& dir,
                                    const std::function<bool(const std::string&)>& ours = {}) {
  namespace fs = std::filesystem;
  int n = 0;
  std::error_code ec;
  if (!fs::is_directory(fs::symlink_status(dir, ec)) && !fs::is_directory(dir, ec)) return 0;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    const auto name = it->path().filename().string();
    const auto at = name.rfind(".tmp.");
    std::error_code kind;  // a file that vanishes mid-walk is skipped, not an exception
    if (at == std::string::npos || !it->is_regular_file(kind) || it->is_symlink(kind)) continue;
    const auto pid = name.substr(at + 5);
    if (pid.empty() || pid.size() > 9 || pid.find_first_not_of("0123456789") != std::string::npos) continue;
    const auto owner = static_cast<pid_t>(std::stol(pid));
    if (owner == ::getpid() || ::kill(owner, 0) == 0 || errno != ESRCH)
      continue;  // a live writer's, or not ours to judge
    if (ours && !ours(name.substr(0, at))) continue;
    std::error_code rm;
    if (fs::remove(it->path(), rm)) ++n;
  }
  return n;
}

/// write_atomically for text: body(std::ostream&) writes the content.
template <class F>
void write_text_atomically(const std::filesystem::path& path, F&& body) {
  write_atomically(path, [&](const std::filesystem::path& tmp) {
    std::ofstream out(tmp, std::ios::binary);
    if (!out)
      fail(path.string(), ": cannot open ", tmp.filename().string(),
           " for writing (permissions? a read-only directory?)");
    body(out);
    out.flush();
    if (!out) fail(path.string(), ": write failed (disk full?); the previous file, if any, is unchanged");
    out.close();
    if (!out) fail(path.string(), ": write failed on close (disk full?); the previous file, if any, is unchanged");
  });
}

}  // namespace cadence
