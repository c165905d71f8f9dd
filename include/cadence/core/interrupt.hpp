#pragma once
// SIGINT / SIGTERM during a job: the handler only records the signal; the training loop finishes
// the optimizer step in progress, writes a resumable checkpoint and throws Interrupted, which a
// command-line program turns into exit code 128 + signal (130, 143) after one line saying how to
// resume; the phases after training (predict, a baseline pass) stop at their next batch the same way.
// A second signal while the first is handled restores the default: it ends the process.
#include <csignal>
#include <string>

#include "cadence/core/error.hpp"

namespace cadence {

namespace detail {
inline volatile std::sig_atomic_t interrupt_signal = 0;
extern "C" inline void record_interrupt(int sig) {
  interrupt_signal = sig;
  std::signal(sig, SIG_DFL);  // a second Ctrl-C ends the process at once
}
}  // namespace detail

/// The signal that asked to stop (SIGINT, SIGTERM), or 0.
inline int interrupt_requested() { return static_cast<int>(detail::interrupt_signal); }

/// Thrown after the checkpoint is written; `signal` says which one asked.
class Interrupted : public Error {
 public:
  Interrupted(int sig, const std::string& what) : Error(what), signal(sig) {}
  int signal;
};

/// Installs the handlers for its lifetime (nesting is fine: the outermost restores the originals).
class InterruptGuard {
 public:
  InterruptGuard() {
    if (depth()++ > 0) return;
    detail::interrupt_signal = 0;
    old_int_ = std::signal(SIGINT, detail::record_interrupt);
    old_term_ = std::signal(SIGTERM, detail::record_interrupt);
  }
  ~InterruptGuard() {
    if (--depth() > 0) return;
    std::signal(SIGINT, old_int_ == SIG_ERR ? SIG_DFL : old_int_);
    std::signal(SIGTERM, old_term_ == SIG_ERR ? SIG_DFL : old_term_);
  }
  InterruptGuard(const InterruptGuard&) = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;

 private:
  static int& depth() {
    static int d = 0;
    return d;
  }
  void (*old_int_)(int) = SIG_DFL;
  void (*old_term_)(int) = SIG_DFL;
};

inline const char* signal_name(int sig) { return sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "a signal"; }

/// After training (a baseline pass, predict, the report): a recorded signal stops the job here with
/// the same Interrupted as training's (exit 130 / 143 from the command line, stdout flushed). What was
/// trained is on disk; --resume skips it and does this phase again.
inline void stop_if_interrupted(const std::string& phase) {
  if (const int sig = interrupt_requested())
    throw Interrupted(sig, phase + ": stopped by " + signal_name(sig) +
                               "; the trained folds are kept, continue with --resume (it redoes this step only)");
}

}  // namespace cadence
