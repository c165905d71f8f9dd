#pragma once
// Outputs are written to a temporary file beside the target and renamed into place, so a crash or
// an error mid-write never leaves a half-written checkpoint, submission or report behind.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>

#include "cadence/core/error.hpp"

namespace cadence {

/// Calls write(tmp_path), then renames tmp_path to `path`. On any exception the temp file is removed
/// and the previous `path` (if any) is left untouched.
template <class F>
void write_atomically(const std::filesystem::path& path, F&& write) {
  namespace fs = std::filesystem;
  if (path.has_parent_path()) fs::create_directories(path.parent_path());
  const fs::path tmp = path.string() + ".tmp." + std::to_string(::getpid());
  try {
    write(tmp);
    std::error_code ec;
    fs::rename(tmp, path, ec);
    if (ec) fail(path.string(), ": cannot move the finished file into place: ", ec.message());
  } catch (...) {
    std::error_code ec;
    fs::remove(tmp, ec);
    throw;
  }
}

/// write_atomically for text: body(std::ostream&) writes the content.
template <class F>
void write_text_atomically(const std::filesystem::path& path, F&& body) {
  write_atomically(path, [&](const std::filesystem::path& tmp) {
    std::ofstream out(tmp, std::ios::binary);
    if (!out) fail(tmp.string(), ": cannot open for writing");
    body(out);
    out.flush();
    if (!out) fail(tmp.string(), ": write failed (disk full?)");
  });
}

}  // namespace cadence
