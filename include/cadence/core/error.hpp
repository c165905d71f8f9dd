#pragma once
// cadence::Error: every refusal of bad input. One line, naming the file, id or JSON path at fault,
// so that a command-line program can print `error: <what()>` and exit non-zero.
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace cadence {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Builds the message from streamable parts: `fail("npy: ", path, ": truncated")`.
template <class... Parts>
[[noreturn]] void fail(Parts&&... parts) {
  std::ostringstream os;
  (os << ... << std::forward<Parts>(parts));
  throw Error(os.str());
}

}  // namespace cadence
