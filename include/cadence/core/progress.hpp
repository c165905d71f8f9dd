#pragma once
// A progress bar for long loops: count, rate, ETA and a free-text status (loss, AUC).
// Redraws in place on a terminal (at most 10 times a second); on a pipe it stays silent until
// finish(), which prints one summary line, so logs stay readable. quiet = no output at all.
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace cadence {

class Progress {
 public:
  using Clock = std::chrono::steady_clock;

  Progress(std::string label, std::int64_t total, bool quiet = false, std::string unit = "it")
      : label_(std::move(label)),
        unit_(std::move(unit)),
        total_(total),
        quiet_(quiet),
        tty_(::isatty(::fileno(stderr)) != 0),
        start_(Clock::now()),
        last_draw_(start_) {}
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;
  ~Progress() { finish(); }

  void set_status(std::string s) { status_ = std::move(s); }

  void advance(std::int64_t n = 1) {
    done_ += n;
    const auto now = Clock::now();
    if (tty_ && !quiet_ && now - last_draw_ > std::chrono::milliseconds(100)) {
      last_draw_ = now;
      draw(false);
    }
  }

  void finish() {
    if (finished_) return;
    finished_ = true;
    if (!quiet_) draw(true);
  }

  double seconds() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }
  double rate() const {
    const double s = seconds();
    return s > 0 ? static_cast<double>(done_) / s : 0.0;
  }
  std::int64_t done() const { return done_; }

  /// "01:23" or "1:02:03".
  static std::string clock(double seconds) {
    const auto s = static_cast<long>(seconds + 0.5);
    char buf[32];
    if (s >= 3600)
      std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
    else
      std::snprintf(buf, sizeof buf, "%02ld:%02ld", s / 60, s % 60);
    return buf;
  }

 private:
  void draw(bool final) const {
    constexpr int width = 24;
    const double frac = total_ > 0 ? static_cast<double>(done_) / static_cast<double>(total_) : 1.0;
    const int filled = static_cast<int>(frac * width + 0.5);
    std::string bar(static_cast<std::size_t>(filled > width ? width : filled), '#');
    bar.resize(width, '.');
    const double r = rate();
    const double eta = r > 0 && total_ > done_ ? static_cast<double>(total_ - done_) / r : 0.0;
    std::fprintf(stderr, "%s%-10s [%s] %lld/%lld %5.1f %s/s %s %s%s", tty_ ? "\r\033[K" : "", label_.c_str(),
                 bar.c_str(), static_cast<long long>(done_), static_cast<long long>(total_), r, unit_.c_str(),
                 final ? ("in " + clock(seconds())).c_str() : ("ETA " + clock(eta)).c_str(), status_.c_str(),
                 final ? "\n" : "");
    std::fflush(stderr);
  }

  std::string label_, unit_, status_;
  std::int64_t total_, done_ = 0;
  bool quiet_, tty_, finished_ = false;
  Clock::time_point start_, last_draw_;
};

}  // namespace cadence
