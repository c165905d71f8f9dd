#pragma once
// cadence::Error: every refusal of bad input. One line, naming the file, id or JSON path at fault,
// so that a command-line program can print `error: <what()>` and exit non-zero.
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace cadence {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The first line of a message from elsewhere (LibTorch's carry a stack trace), at most `limit`
/// characters: what an error line may quote.
inline std::string first_line(std::string_view what, std::size_t limit = 200) {
  std::string s(what.substr(0, what.find('\n')));
  if (s.size() > limit) s = s.substr(0, limit) + "...";
  return s;
}

/// Builds the message from streamable parts: `fail("npy: ", path, ": truncated")`.
template <class... Parts>
[[noreturn]] void fail(Parts&&... parts) {
  std::ostringstream os;
  (os << ... << std::forward<Parts>(parts));
  throw Error(os.str());
}

}  // namespace cadence
