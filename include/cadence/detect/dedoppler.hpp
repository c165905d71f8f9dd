#pragma once
// The classical yardstick: a de-Doppler search (turboSETI's idea) as the model of a pipeline.
//
// For each drift rate r in [-drift_max, +drift_max] (channels per time step, `drift_steps` of them) and
// each starting channel f, it sums each panel's power along the line f + r*g, where g counts time steps
// from the start of the cadence (the line continues through the OFF panels, as a real signal's would);
// a panel's sum, scaled by its noise (the panels are standardised), is a z-score. The cadence's score
// is the best ON-minus-OFF contrast over all lines:
//
//   score = max over (r, f) of  mean_ON z(r, f) - mean_OFF z(r, f)
//
// so a drifting line in the ON panels only scores high, and RFI in all six cancels. With the ON panels
// only (load.layout "on_stacked") there is no OFF term. It learns nothing: `seti run` scores each fold's
// validation split (the out-of-fold AUC) and predicts the test set with no training.
//
//   auto p = Load{} | Background{} | Model<DeDopplerArch>{};
//   "model": { "arch": "dedoppler", "drift_max": 0.1, "drift_steps": 41 }
//
// Rows are averaged in bins of `time_bin` first (a bin's rows drift by under drift_max*time_bin channels,
// which the signals' widths absorb). A line's contrast is linear in the pixels, so each rate reads two
// rows of prefix sums per run of rows the line crosses at one channel shift. search() also gives each
// cadence's best line (drift rate and channel), which hits tables report.
//
// With `"search": "track"` the sums run along paths that wander (detect/track.hpp: dynamic programming,
// each panel's best path of any shape that moves at most `track_step` binned channels per binned row,
// after channels too are averaged in bins of `freq_bin`) in place of straight lines, and the score is
// the mean ON panel's best path minus the mean OFF panel's; with `"track_algorithm": "forward"` each
// panel's log-likelihood ratio summed over all paths in place of its best path (`track_beta`: the
// signal's assumed amplitude per binned pixel, in noise deviations). With `track_window` W > 0 each ON
// panel is compared with the OFF panels beside it window by window (W binned channels), so that
// interference elsewhere in the band does not decide the score; `track_compare` "max" compares it with
// the brighter of them, not their mean. It follows curved, oscillating and wandering
// drifts that a line loses; each panel is searched on its own (a path need not continue between panels).
//   "model": { "arch": "dedoppler", "search": "track", "time_bin": 6, "freq_bin": 2, "track_step": 1,
//              "track_algorithm": "forward", "track_beta": 0.5, "track_window": 32,
//              "track_compare": "max" }   (configs/track.json)
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <torch/nn.h>

#include "cadence/config/options.hpp"
#include "cadence/core/error.hpp"
#include "cadence/detect/track.hpp"

namespace cadence {

/// What the de-Doppler model sums along: straight lines (turboSETI's search) or wandering paths.
enum class DeDopplerSearch { line, track };

inline constexpr std::array<std::pair<DeDopplerSearch, std::string_view>, 2> enum_names(DeDopplerSearch) {
  return {{{DeDopplerSearch::line, "line"}, {DeDopplerSearch::track, "track"}}};
}

/// How a track search scores a panel's paths: the best one (Viterbi) or all of them (the forward algorithm).
enum class TrackAlgorithm { viterbi, forward };

inline constexpr std::array<std::pair<TrackAlgorithm, std::string_view>, 2> enum_names(TrackAlgorithm) {
  return {{{TrackAlgorithm::viterbi, "viterbi"}, {TrackAlgorithm::forward, "forward"}}};
}

/// What a track search subtracts from an ON panel's number: the mean of the OFF panels it is compared
/// with, or the brightest of them (so that interference in one of them is not halved by the other).
enum class TrackCompare { mean, max };

inline constexpr std::array<std::pair<TrackCompare, std::string_view>, 2> enum_names(TrackCompare) {
  return {{{TrackCompare::mean, "mean"}, {TrackCompare::max, "max"}}};
}

struct DeDopplerOptions {
  double drift_max = 0.1;     // largest |drift| searched, channels per time step (0.1: 164 channels over 6 x 273 steps)
  int drift_steps = 41;       // drift rates, evenly from -drift_max to +drift_max (odd: 0 is one)
  int time_bin = 3;           // time steps averaged before the search (273 = 3 x 91)
  std::int64_t tchans = 273;  // time steps per panel, to find the panels in a stacked image
  double threshold = 8.0;     // the score at which P(positive) = 0.5 (the scale of the reported probabilities)
  double scale = 1.0;         // score units per logit: P = sigmoid((score - threshold) / scale), so that
                              // large scores stay apart in float32 (sigmoid rounds to 1 from a logit of ~17)
  DeDopplerSearch search = DeDopplerSearch::line;
  int freq_bin = 1;    // "track": channels averaged before the search
  int track_step = 1;  // "track": the most a path moves from one binned row to the next, in binned channels
  TrackAlgorithm track_algorithm = TrackAlgorithm::viterbi;  // "track": the best path, or the sum over paths
  double track_beta = 2.0;  // "track", forward: a signal's assumed amplitude per binned pixel, in noise deviations
  // "track": binned channels an ON panel is compared in with the OFF panels beside it (0: the whole band)
  int track_window = 0;
  // "track": an ON panel against the mean of its OFF panels or the brightest of them (with track_window 0:
  // the mean ON panel against the mean OFF panel, or against the brightest OFF panel)
  TrackCompare track_compare = TrackCompare::mean;
  static constexpr std::string_view not_binned = " channels binned, but only \"search\": \"track\" bins channels";

  template <class V>
  void fields(V& v) {
    v("drift_max", drift_max, config::in_range(0.0, 16.0));
    v("drift_steps", drift_steps, config::in_range(1, 4097));
    v("time_bin", time_bin, config::in_range(1, 256));
    v("tchans", tchans, config::in_range(1, 1 << 20));
    v("threshold", threshold);
    v("scale", scale, config::in_range(1e-3, 1e6));
    v("search", search);
    v("freq_bin", freq_bin, config::in_range(1, 256), [this](int value, const std::string& path) {
      if (search == DeDopplerSearch::line && value != 1) fail(path, ": ", value, not_binned);
    });
    // the track search's keys: a line search refuses a value it would ignore (the defaults pass, so that a
    // saved config.json, which lists every key, reads back)
    auto track_only = [this](std::string_view key) {
      return [this, key](const auto&, const std::string& path) {
        if (line_ignores() == key) fail(path, track_only_message);
      };
    };
    v("track_step", track_step, config::in_range(0, 64), track_only("track_step"));
    v("track_algorithm", track_algorithm, track_only("track_algorithm"));
    v("track_beta", track_beta, config::in_range(1e-3, 100.0), track_only("track_beta"));
    v("track_window", track_window, config::in_range(0, 1 << 16), track_only("track_window"));
    v("track_compare", track_compare, track_only("track_compare"));
  }

  static constexpr std::string_view track_only_message =
      ": only \"search\": \"track\" reads it (this model searches lines)";

  /// The track search as samples/seti/configs/track.json ships it (its settings chosen in docs/quality.md,
  /// behind the background mode "neighbour_mean"; a test reads track.json against this):
  /// finetune.baseline_search "track" scores it beside a network.
  static DeDopplerOptions shipped_track() {
    DeDopplerOptions o;
    o.search = DeDopplerSearch::track;
    o.time_bin = 6;
    o.freq_bin = 2;
    o.track_step = 1;
    o.track_algorithm = TrackAlgorithm::forward;
    o.track_beta = 0.5;
    o.track_window = 32;
    o.track_compare = TrackCompare::max;
    o.threshold = 14.0;
    o.scale = 3.0;
    return o;
  }

  /// With a line search, the first track_* key whose value it would ignore (one away from its default);
  /// empty when there is none or the search is a track search.
  std::string_view line_ignores() const {
    if (search != DeDopplerSearch::line) return {};
    const DeDopplerOptions d;
    if (track_step != d.track_step) return "track_step";
    if (track_algorithm != d.track_algorithm) return "track_algorithm";
    if (track_beta != d.track_beta) return "track_beta";
    if (track_window != d.track_window) return "track_window";
    if (track_compare != d.track_compare) return "track_compare";
    return {};
  }
};

namespace dedoppler {

/// Each cadence's best line: its score, drift rate (channels per time step) and starting channel.
struct Best {
  torch::Tensor score;    // (B,) float32
  torch::Tensor drift;    // (B,) float32, channels per time step
  torch::Tensor channel;  // (B,) int64, the line's channel at the cadence's first time step
};

/// The ON and OFF panels of a cadence's panels at positions `position` (0..5; ON where even), as indices
/// into the panels: the one reading of the ABACAD order both searches use.
struct OnOff {
  std::vector<std::int64_t> on, off;
};

inline OnOff on_off(const std::vector<std::int64_t>& position) {
  OnOff s;
  for (std::size_t k = 0; k < position.size(); ++k)
    (position[k] % 2 == 0 ? s.on : s.off).push_back(static_cast<std::int64_t>(k));
  return s;
}

/// The drift rates searched.
inline std::vector<double> rates(const DeDopplerOptions& o) {
  std::vector<double> r;
  if (o.drift_steps <= 1) return {0.0};
  for (int k = 0; k < o.drift_steps; ++k) r.push_back(-o.drift_max + 2.0 * o.drift_max * k / (o.drift_steps - 1));
  return r;
}

/// How search() sums along its lines: by prefix sums (two slices per run of rows at one shift; fastest on
/// a CPU, ~3-5x the gather), by one gather of every row per rate (few, large kernels: a GPU's way), or
/// the first on a CPU and the second elsewhere. The numbers agree to float rounding.
enum class LineSums { automatic, prefix, gather };

/// Searches `panels` (B, P, T, F): panel k sits at cadence position `position[k]` (0..5) and is ON when
/// that position is even. Returns the best ON-minus-OFF line of each cadence.
inline Best search(const torch::Tensor& panels, const std::vector<std::int64_t>& position, const DeDopplerOptions& o,
                   LineSums sums = LineSums::automatic) {
  torch::NoGradGuard no_grad;
  const auto B = panels.size(0), P = panels.size(1), T = panels.size(2), F = panels.size(3);
  if (static_cast<std::int64_t>(position.size()) != P)
    fail("dedoppler: ", P, " panels but ", position.size(), " positions");
  const std::int64_t bin = std::min<std::int64_t>(o.time_bin, T);
  const std::int64_t Tb = T / bin;
  auto x =
      panels.to(torch::kFloat32).contiguous().narrow(2, 0, Tb * bin).view({B, P, Tb, bin, F}).mean(3);  // (B,P,Tb,F)
  // the time (in steps from the cadence's start) of each binned row: the middle of its bin
  std::vector<double> when;
  for (std::int64_t k = 0; k < P; ++k)
    for (std::int64_t j = 0; j < Tb; ++j)
      when.push_back(static_cast<double>(position[static_cast<std::size_t>(k)] * T + j * bin) + 0.5 * (bin - 1));
  const double span =
      position.empty() ? 0.0 : static_cast<double>((*std::max_element(position.begin(), position.end()) + 1) * T);
  const auto margin = static_cast<std::int64_t>(std::ceil(o.drift_max * span)) + 1;
  const auto G = P * Tb;
  const auto panels_of = on_off(position);
  const auto n_on = static_cast<double>(panels_of.on.size()), n_off = static_cast<double>(panels_of.off.size());
  // a panel's sum of bin means -> a z-score; a line's contrast (mean ON z-score minus mean OFF) is linear in
  // x, with the weight z/n_on on an ON panel's rows and -z/n_off on an OFF panel's
  const double z = std::sqrt(static_cast<double>(bin)) / std::sqrt(static_cast<double>(Tb));
  std::vector<double> weight(static_cast<std::size_t>(P));
  for (const auto k : panels_of.on) weight[static_cast<std::size_t>(k)] = z / n_on;
  for (const auto k : panels_of.off) weight[static_cast<std::size_t>(k)] = -z / n_off;
  Best best{torch::full({B}, -std::numeric_limits<float>::infinity()), torch::zeros({B}),
            torch::zeros({B}, torch::kLong)};
  best.score = best.score.to(x.device());
  best.drift = best.drift.to(x.device());
  best.channel = best.channel.to(x.device());
  const bool by_prefix = sums == LineSums::prefix || (sums == LineSums::automatic && x.device().is_cpu());
  // by prefix sums: the weighted rows summed from the cadence's start, (B, G+1, F+2M) in float64, zero off the
  // band; the rows a line crosses at one shift form runs, and a run's sum is the difference of two prefix
  // rows, so that a rate costs two slices per run. By gather: the weighted rows, (B, G, F+2M), and one gather
  // of every row a rate (41 kernels a call where each slice would be one: what a GPU prefers)
  const auto padded = [&] {  // only this outlives the set-up: (B, G+1, F+2M) float64, or (B, G, F+2M) float32
    const auto dtype = by_prefix ? torch::kFloat64 : torch::kFloat32;
    const auto weighted =
        (x.to(dtype) * torch::tensor(weight, dtype).view({1, P, 1, 1}).to(x.device())).reshape({B, G, F});
    return by_prefix ? torch::constant_pad_nd(weighted.cumsum(1), {margin, margin, 1, 0}, 0.0)  // row 0: zeros
                     : torch::constant_pad_nd(weighted, {margin, margin}, 0.0);
  }();
  const auto base = torch::arange(F, torch::kLong).view({1, F});
  std::vector<std::int64_t> shift(static_cast<std::size_t>(G));
  for (const double r : rates(o)) {
    for (std::int64_t g = 0; g < G; ++g)  // round half to even, as torch::round and std::nearbyint do
      shift[static_cast<std::size_t>(g)] =
          static_cast<std::int64_t>(std::nearbyint(when[static_cast<std::size_t>(g)] * r));
    torch::Tensor contrast;  // (B,F): the mean ON z-score minus the mean OFF one, of each line
    if (by_prefix) {
      contrast = torch::zeros({B, F}, padded.options());
      for (std::int64_t g = 0; g < G;) {
        const auto s0 = shift[static_cast<std::size_t>(g)];
        std::int64_t h = g + 1;
        while (h < G && shift[static_cast<std::size_t>(h)] == s0) ++h;  // rows g..h-1 share the shift s0
        contrast.add_(padded.select(1, h).narrow(1, s0 + margin, F))
            .sub_(padded.select(1, g).narrow(1, s0 + margin, F));
        g = h;
      }
    } else {
      const auto idx = (base + torch::tensor(shift, torch::kLong).view({G, 1}) + margin)
                           .to(x.device())
                           .unsqueeze(0)
                           .expand({B, G, F});
      contrast = padded.gather(2, idx).sum(1);
    }
    const auto [value, where] = contrast.to(torch::kFloat32).max(1);
    const auto better = value > best.score;
    best.score = torch::where(better, value, best.score);
    best.drift = torch::where(better, torch::full_like(best.drift, static_cast<float>(r)), best.drift);
    best.channel = torch::where(better, where, best.channel);
  }
  return best;
}

/// The track search of `panels` (B, P, T, F) at cadence positions `position` (see detect/track.hpp).
/// Each panel's paths give a number per end channel: the best path's z-score (viterbi) or the
/// log-likelihood ratio summed over the paths ending there (forward). With track_window 0 a panel's
/// number is its best (viterbi) or its sum over every end channel (forward), and the cadence's score the
/// mean ON panel's minus the mean OFF panel's. With track_window W the numbers are taken over windows of
/// W binned channels (every W/2), each ON panel's window against the same window of the OFF panels next
/// to it in the cadence, and the cadence's score is the mean over ON panels of their best window's
/// contrast: interference elsewhere in the band, or in the OFF panels beside a signal, stays out of it.
/// An ON number meets the mean of its OFF numbers (track_compare "mean") or the largest ("max"; with
/// track_window 0, the mean ON number meets the largest OFF panel's).
/// Best::channel is the last channel (the middle of its bin) of the best ON panel's best path (viterbi)
/// or most likely end (forward); a path has no one drift rate, so Best::drift is NaN.
inline Best track_search(const torch::Tensor& panels, const std::vector<std::int64_t>& position,
                         const DeDopplerOptions& o) {
  torch::NoGradGuard no_grad;
  const auto B = panels.size(0), P = panels.size(1), T = panels.size(2), F = panels.size(3);
  if (static_cast<std::int64_t>(position.size()) != P)
    fail("dedoppler: ", P, " panels but ", position.size(), " positions");
  const std::int64_t bin = std::min<std::int64_t>(o.time_bin, T), fbin = std::min<std::int64_t>(o.freq_bin, F);
  const std::int64_t Tb = T / bin, Fb = F / fbin;
  const auto x = panels.to(torch::kFloat32)
                     .contiguous()
                     .narrow(2, 0, Tb * bin)
                     .narrow(3, 0, Fb * fbin)
                     .reshape({B * P, Tb, bin, Fb, fbin})
                     .mean({2, 4});  // (B*P, Tb, Fb)
  const bool viterbi = o.track_algorithm == TrackAlgorithm::viterbi;
  torch::Tensor map;  // (B, P, Fb): each end channel's number
  if (viterbi)        // a path's sum of Tb bin means, each the mean of bin*fbin standardised pixels -> a z-score
    map = track::best_path_sums(x, o.track_step).view({B, P, Fb}) *
          std::sqrt(static_cast<double>(bin * fbin) / static_cast<double>(Tb));
  else  // bin means back to unit noise variance
    map = track::log_path_sums(x * std::sqrt(static_cast<double>(bin * fbin)), o.track_step, o.track_beta)
              .view({B, P, Fb});
  // a window's number: its best end channel (viterbi) or the log of the mean likelihood ratio over them
  auto reduce = [&](const torch::Tensor& m, std::int64_t dim, std::int64_t n) {
    return viterbi ? std::get<0>(m.max(dim)) : torch::logsumexp(m, dim) - std::log(static_cast<double>(n));
  };
  const auto [on, off] = on_off(position);
  const auto device = panels.device();
  auto compare = [&](const torch::Tensor& off_numbers) {  // (B, k, ...) -> (B, ...): what an ON number meets
    return o.track_compare == TrackCompare::max ? std::get<0>(off_numbers.max(1)) : off_numbers.mean(1);
  };
  auto index = [&](const std::vector<std::int64_t>& k) { return torch::tensor(k, torch::kLong).to(device); };
  Best best;
  torch::Tensor on_number;  // (B, |on|): what picks Best::channel's panel
  const bool windowed = o.track_window > 0 && o.track_window < Fb;
  const std::int64_t W = windowed ? o.track_window : Fb, stride = std::max<std::int64_t>(1, W / 2);
  torch::Tensor on_window;  // (B, |on|): each ON panel's best window
  if (!windowed) {
    const auto number = reduce(map, 2, Fb);  // (B, P)
    on_number = number.index_select(1, index(on));
    best.score = on_number.mean(1);
    if (!off.empty()) best.score = best.score - compare(number.index_select(1, index(off)));
  } else {
    const auto windows = reduce(map.unfold(2, W, stride), 3, W);  // (B, P, n windows)
    std::vector<torch::Tensor> contrast, at;
    for (const auto k : on) {
      std::vector<std::int64_t> beside;  // the OFF panels next to ON panel k in the cadence
      for (const auto q : off)
        if (std::abs(position[static_cast<std::size_t>(q)] - position[static_cast<std::size_t>(k)]) == 1)
          beside.push_back(q);
      auto c = windows.select(1, k);
      if (!beside.empty()) c = c - compare(windows.index_select(1, index(beside)));
      const auto [value, window] = c.max(1);  // this ON panel's best window
      contrast.push_back(value);
      at.push_back(window);
    }
    on_number = torch::stack(contrast, 1);  // (B, |on|)
    on_window = torch::stack(at, 1);
    best.score = on_number.mean(1);
  }
  const auto pick = on_number.argmax(1, true);                    // (B, 1): the best ON panel of each cadence
  const auto which = index(on).index_select(0, pick.squeeze(1));  // its panel index
  if (!windowed) {                                                // that panel's best end channel
    best.channel = map.argmax(2).gather(1, which.unsqueeze(1)).squeeze(1) * fbin + fbin / 2;
  } else {                                          // the best channel inside that panel's best window
    const auto window = on_window.gather(1, pick);  // (B, 1)
    const auto panel_map = map.gather(1, which.view({B, 1, 1}).expand({B, 1, Fb})).squeeze(1);  // (B, Fb)
    const auto inside = panel_map.unfold(1, W, stride).gather(1, window.unsqueeze(2).expand({B, 1, W})).squeeze(1);
    best.channel = (inside.argmax(1) + window.squeeze(1) * stride) * fbin + fbin / 2;
  }
  best.drift = torch::full({B}, std::numeric_limits<float>::quiet_NaN(), map.options());
  return best;
}

}  // namespace dedoppler

/// The network module: images (B,C,H,W) in, logits (B,K) out, no parameters.
class DeDopplerImpl : public torch::nn::Module {
 public:
  DeDopplerImpl(DeDopplerOptions o, std::int64_t in_chans, std::int64_t classes) : o_(o), classes_(classes) {
    if (in_chans != 1 && in_chans != 6)
      fail("/model: dedoppler reads a 1-channel stacked image or 6 channels (load.layout), not ", in_chans,
           " channels");
    if (o_.search == DeDopplerSearch::line && o_.freq_bin != 1)
      fail("/model/freq_bin: ", o_.freq_bin, DeDopplerOptions::not_binned);
    if (const auto key = o_.line_ignores(); !key.empty()) fail("/model/", key, DeDopplerOptions::track_only_message);
  }

  /// The panels of an input image (B,P,T,F) and their cadence positions.
  std::pair<torch::Tensor, std::vector<std::int64_t>> panels(const torch::Tensor& x) const {
    if (x.dim() != 4) fail("/model: dedoppler expects images (B,C,H,W), got ", x.dim(), " dimensions");
    const auto B = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
    if (C == 6) return {x, {0, 1, 2, 3, 4, 5}};
    if (C == 1 && H % o_.tchans == 0) {
      const auto P = H / o_.tchans;
      if (P == 6) return {x.reshape({B, 6, o_.tchans, W}), {0, 1, 2, 3, 4, 5}};
      if (P == 3) return {x.reshape({B, 3, o_.tchans, W}), {0, 2, 4}};
    }
    fail("/model: dedoppler got images of ", C, " x ", H, " x ", W,
         ", not 6 (or the 3 ON) panels of model.tchans = ", o_.tchans,
         " rows; use load.layout \"all_stacked\" or \"channels\" and no Resize before it");
  }

  torch::Tensor forward(const torch::Tensor& x) {
    const auto [p, position] = panels(x.contiguous());
    const auto best = o_.search == DeDopplerSearch::track ? dedoppler::track_search(p, position, o_)
                                                          : dedoppler::search(p, position, o_);
    const auto score = (best.score - static_cast<float>(o_.threshold)) / static_cast<float>(o_.scale);
    if (classes_ == 1) return score.unsqueeze(1);
    return torch::stack({torch::zeros_like(score), score}, 1);  // softmax -> sigmoid(score - threshold)
  }

 private:
  DeDopplerOptions o_;
  std::int64_t classes_;
};
TORCH_MODULE(DeDoppler);

/// Model<DeDopplerArch>: `"arch": "dedoppler"`.
struct DeDopplerArch {
  static constexpr std::string_view name = "dedoppler";
  using Options = DeDopplerOptions;
  static torch::nn::AnyModule build(const Options& o, std::int64_t in_chans, std::int64_t classes) {
    return torch::nn::AnyModule(DeDoppler(o, in_chans, classes));
  }
};

}  // namespace cadence
