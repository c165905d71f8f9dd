#pragma once
// scan: a trained run's fold ensemble over a whole observation (six .fil/.h5 files, one cadence).
//
//   seti scan --config run.json --run runs/demo --cadence a1.h5 b.h5 a2.h5 c.h5 a3.h5 d.h5
//
// The run's pipeline reads windows of the observation instead of the competition's files (see
// observe/cadence.hpp: the windows, the time axis, the checks), through its cadence stages and layout;
// each window is scored by the mean of the folds' probabilities (x the pipeline's TTA rounds when
// scan.tta), and the de-Doppler search of detect/dedoppler.hpp gives each window's best drifting line.
// Reading threads cut windows ahead of the network (a bounded window of batches, in order); the
// network runs on run.device (CUDA when asked). Writes, in scan.out (default <run.dir>/scan):
//   hits.csv     every window ranked by score: channels, frequencies, score, the line's drift and SNR
//   waterfalls/  a PNG of each of the top scan.top windows: six panels stacked, power in dB
//   scan.html    the top hits with their waterfalls, the score along the band, what was scanned
//   scan.json    the same numbers for programs
#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <numeric>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <torch/nn.h>

#include "cadence/core/atomic_file.hpp"
#include "cadence/core/progress.hpp"
#include "cadence/core/ordered_prefetch.hpp"
#include "cadence/data/png.hpp"
#include "cadence/detect/background.hpp"
#include "cadence/detect/dedoppler.hpp"
#include "cadence/detect/hit_search_torch.hpp"
#include "cadence/observe/cadence.hpp"
#include "cadence/recipes/competition.hpp"
#include "cadence/recipes/run_dir.hpp"
#include "cadence/recipes/scan_search.hpp"
#include "cadence/train/report.hpp"

namespace cadence {

/// One scanned window.
struct Hit {
  std::int64_t window = 0, first = 0, width = 0;  // window number, its channels [first, first + width)
  double score = 0.0;                             // the fold ensemble's P(signal)
  double drift = NAN, snr = NAN, line_mhz = NAN;  // the de-Doppler line: Hz/s, ON-minus-OFF z, start frequency
  bool valid = true;                              // false: a panel all NaN/Inf, or no power in the window (scored 0)
  std::int64_t masked = 0;                        // NaN/Inf samples masked in the window (observe::cut_window)
};

struct ScanResult {
  ScanMode mode = ScanMode::events;
  ScanSearch search;      // the hits, .dat files and ranked events (modes events and both)
  std::vector<Hit> hits;  // every window ranked, best first (modes windows and both)
  std::int64_t windows = 0, skipped = 0;
  std::int64_t masked_windows = 0, masked_samples = 0;  // windows with NaN/Inf samples masked, and how many samples
  std::size_t models = 0;                               // fold models
  int rounds = 1;                                       // TTA rounds per model (1 without scan.tta)
  double seconds = 0.0, windows_per_s = 0.0;
  std::filesystem::path dir, csv, html;
  std::filesystem::path run;  // the run that scored it
};

namespace observe {

/// matplotlib's viridis, from nine of its colours, linearly between them.
inline std::array<std::uint8_t, 3> viridis(double t) {
  static constexpr std::uint8_t k[9][3] = {{68, 1, 84},    {71, 44, 122},  {59, 81, 139},
                                           {44, 113, 142}, {33, 144, 141}, {39, 173, 129},
                                           {92, 200, 99},  {170, 220, 50}, {253, 231, 37}};
  t = std::clamp(std::isfinite(t) ? t : 0.0, 0.0, 1.0) * 8.0;
  const int i = std::min(7, static_cast<int>(t));
  const double f = t - i;
  std::array<std::uint8_t, 3> c{};
  for (int j = 0; j < 3; ++j)
    c[static_cast<std::size_t>(j)] = static_cast<std::uint8_t>(k[i][j] + f * (k[i + 1][j] - k[i][j]) + 0.5);
  return c;
}

/// A waterfall of channels [first, first + width) as blimpy's plot_waterfall draws a cadence: the six
/// panels stacked top to bottom in observing order, time down, frequency across, power in dB on one
/// colour scale (viridis, the 0.5th to 99.5th percentile), a white rule between panels. PNG bytes.
/// `line` (panel, row) -> channel, when given, is drawn dashed in red over it: an event's fitted drift
/// line, as turboSETI's plot_event draws it.
inline std::vector<std::uint8_t> waterfall_png(const Cadence& c, std::int64_t first, std::int64_t width,
                                               const std::function<double(std::size_t, double)>& line = {}) {
  Block b;
  read_block(c, first, width, b);
  constexpr std::int64_t kMinRows = 64, kMaxRows = 128, kScaleX = 2, kRule = 3;
  std::vector<std::vector<float>> panels(6);
  std::vector<std::int64_t> rows(6);
  std::vector<float> all;
  for (std::size_t p = 0; p < 6; ++p) {
    std::int64_t n = c.header(p).nsamples;
    auto& v = panels[p];
    if (n > kMaxRows) {
      v.resize(static_cast<std::size_t>(kMaxRows * width));
      resample_time(b.panels[p].data(), n, width, v.data(), kMaxRows);
      n = kMaxRows;
    } else {
      v = b.panels[p];
    }
    for (float& x : v) {
      x = std::isfinite(x) ? static_cast<float>(10.0 * std::log10(std::max(static_cast<double>(x), 1e-30))) : NAN;
      if (std::isfinite(x)) all.push_back(x);
    }
    rows[p] = n;
  }
  float lo = 0.0f, hi = 1.0f;
  if (!all.empty()) {
    std::sort(all.begin(), all.end());
    lo = all[static_cast<std::size_t>(0.005 * static_cast<double>(all.size() - 1))];
    hi = all[static_cast<std::size_t>(0.995 * static_cast<double>(all.size() - 1))];
    if (!(hi > lo)) hi = lo + 1.0f;
  }
  const auto W = static_cast<std::uint32_t>(width * kScaleX);
  std::vector<std::uint8_t> px;
  for (std::size_t p = 0; p < 6; ++p) {
    if (p > 0) px.insert(px.end(), static_cast<std::size_t>(kRule) * W * 3, 255);
    const std::int64_t repeat = std::max<std::int64_t>(1, (kMinRows + rows[p] - 1) / rows[p]);
    const double per_row = static_cast<double>(c.header(p).nsamples) / static_cast<double>(rows[p]);
    for (std::int64_t r = 0; r < rows[p]; ++r)
      for (std::int64_t k = 0; k < repeat; ++k) {
        const std::size_t at = px.size();
        for (std::int64_t x = 0; x < width; ++x) {
          const auto col = viridis((panels[p][static_cast<std::size_t>(r * width + x)] - lo) / (hi - lo));
          for (std::int64_t s = 0; s < kScaleX; ++s) px.insert(px.end(), col.begin(), col.end());
        }
        const std::int64_t y = r * repeat + k;  // the image row within the panel: dashes of 4 rows in 8
        if (!line || y % 8 >= 4) continue;
        const double sample =
            (static_cast<double>(r) + (static_cast<double>(k) + 0.5) / static_cast<double>(repeat)) * per_row;
        const double x = line(p, sample - 0.5) - static_cast<double>(first);
        if (!(x >= 0.0 && x < static_cast<double>(width))) continue;
        const auto col = static_cast<std::size_t>(x) * static_cast<std::size_t>(kScaleX);
        for (std::size_t s = 0; s < static_cast<std::size_t>(kScaleX); ++s) {
          std::uint8_t* rgb = px.data() + at + (col + s) * 3;
          rgb[0] = 255;
          rgb[1] = 40;
          rgb[2] = 40;
        }
      }
  }
  const auto H = static_cast<std::uint32_t>(px.size() / (static_cast<std::size_t>(W) * 3));
  return png::encode(px, W, H, 3);
}

inline std::string base64(const std::vector<std::uint8_t>& in) {
  static constexpr char k[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  for (std::size_t i = 0; i < in.size(); i += 3) {
    const std::uint32_t v = (static_cast<std::uint32_t>(in[i]) << 16) | (i + 1 < in.size() ? in[i + 1] << 8 : 0) |
                            (i + 2 < in.size() ? in[i + 2] : 0);
    out += k[(v >> 18) & 63];
    out += k[(v >> 12) & 63];
    out += i + 1 < in.size() ? k[(v >> 6) & 63] : '=';
    out += i + 2 < in.size() ? k[v & 63] : '=';
  }
  return out;
}

}  // namespace observe

namespace recipes {

namespace detail {

/// One batch of windows, cut by a reading thread.
struct ScanBatch {
  std::int64_t first_window = 0, count = 0;
  torch::Tensor images;  // (n,C,H,W): what the network reads
  torch::Tensor
      panels;  // (n,6,T/bin,F): the six panels standardised and binned, for the de-Doppler line (undefined when off)
  std::vector<char> valid;           // per window
  std::vector<std::int64_t> masked;  // per window: NaN/Inf samples masked
};

inline std::string mhz(double f) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.6f", f);
  return buf;
}

/// Where a scan's windows lie and how the de-Doppler line is searched in them.
///
/// The de-Doppler line of each window (scan.baseline) is the search of detect/dedoppler.hpp with its
/// default drift range, on the six standardised panels. Rows resampled from few samples hold no more
/// than those samples, so the readers average them back in bins of about one sample (16 samples: bins
/// of 17 rows, not the default 3) and hand the search (n,6,T/bin,F): 17x less to carry, 5.7x less to
/// search. The search then runs with bins of 1 and the drift range in binned rows, and its z-scores are
/// scaled back by sqrt(bin): the numbers of searching the full windows with bins of `bin`, up to the
/// panels' start times rounding to whole bins.
struct ScanPlan {
  CadenceShape shape{};                                   // the training shape: 6 x 273 x 256
  ImageShape image{};                                     // what the network reads
  std::vector<std::int64_t> starts;                       // each window's first channel
  std::vector<std::array<std::int64_t, 6>> panel_starts;  // or each panel's (events' windows); empty = starts
  std::vector<std::array<double, 6>> panel_shear;         // and each panel's row shift, channels per row
  std::int64_t windows = 0, batch = 0, batches = 0;
  std::int64_t bin = 1, binned = 0;  // rows per de-Doppler bin, and binned rows per panel
  DeDopplerOptions search;           // the search on binned rows
  double step_s = 0.0;               // seconds per resampled row

  ScanPlan(const observe::Cadence& cad, const ScanOptions& so, PanelLayout layout) {
    if (cad.nchans() < shape.freq)
      fail(cad.header().file.string(), ": ", cad.nchans(), " channels, fewer than one window of the trained model's ",
           shape.freq);
    image = image_shape(layout, shape);
    starts = observe::window_starts(cad.nchans(), shape.freq, so.overlap);
    windows = static_cast<std::int64_t>(starts.size());
    batch = so.batch;
    batches = (windows + batch - 1) / batch;
    const DeDopplerOptions dd;
    std::int64_t fewest = shape.time;
    for (std::size_t p = 0; p < 6; ++p) fewest = std::min(fewest, cad.header(p).nsamples);
    bin = std::max<std::int64_t>(dd.time_bin, shape.time / std::max<std::int64_t>(1, fewest));
    binned = shape.time / bin;
    search = dd;
    search.time_bin = 1;
    search.drift_max = dd.drift_max * static_cast<double>(bin);
    const auto& h0 = cad.header();
    step_s = h0.tsamp * static_cast<double>(h0.nsamples) / static_cast<double>(shape.time);
  }

  /// The same plan over other windows (the events' windows), one per batch: they need not be neighbours.
  ScanPlan at(std::vector<std::array<std::int64_t, 6>> firsts, std::vector<std::array<double, 6>> shear) const {
    ScanPlan p = *this;
    p.panel_shear = std::move(shear);
    p.starts.clear();
    for (const auto& f : firsts) p.starts.push_back(*std::min_element(f.begin(), f.end()));
    p.panel_starts = std::move(firsts);
    p.windows = static_cast<std::int64_t>(p.starts.size());
    p.batch = 1;
    p.batches = p.windows;
    return p;
  }
};

/// Cuts batch b of windows: what each reading thread of the scan does (through OrderedPrefetch).
class WindowCutter {
 public:
  WindowCutter(const observe::Cadence& cad, const ScanPlan& plan, PanelLayout layout, bool standardize, bool baseline,
               CadenceHook cadence)
      : cad_(cad),
        plan_(plan),
        layout_(layout),
        standardize_(standardize),
        baseline_(baseline),
        cadence_(std::move(cadence)) {}

  /// Whether the batches carry the binned panels for the de-Doppler line (scan.baseline).
  bool baseline() const { return baseline_; }

  ScanBatch operator()(std::size_t batch) const {
    thread_local observe::Block block;
    thread_local std::vector<float> raw;
    const auto& shape = plan_.shape;
    const std::int64_t panel = shape.time * shape.freq;
    ScanBatch s;
    s.first_window = static_cast<std::int64_t>(batch) * plan_.batch;
    s.count = std::min(plan_.batch, plan_.windows - s.first_window);
    std::int64_t lo = start(s.first_window), hi = start(s.first_window + s.count - 1) + shape.freq;
    for (std::int64_t w = s.first_window; w < s.first_window + s.count && !plan_.panel_starts.empty(); ++w)
      for (std::size_t p = 0; p < 6; ++p) {  // the panel's rows, shifted by up to shear x rows / 2
        const std::int64_t f = plan_.panel_starts[static_cast<std::size_t>(w)][p];
        const auto reach =
            static_cast<std::int64_t>(std::ceil(std::abs(plan_.panel_shear[static_cast<std::size_t>(w)][p]) * 0.5 *
                                                static_cast<double>(cad_.header(p).nsamples)));
        lo = std::min(lo, f - reach);
        hi = std::max(hi, f + shape.freq + reach);
      }
    lo = std::max<std::int64_t>(0, lo);
    hi = std::min(cad_.nchans(), hi);
    observe::read_block(cad_, lo, hi - lo, block);
    const ImageShape& image = plan_.image;
    s.images = torch::empty({s.count, image.channels, image.height, image.width}, torch::kFloat32);
    if (baseline_) s.panels = torch::zeros({s.count, 6, plan_.binned, shape.freq}, torch::kFloat32);
    s.valid.assign(static_cast<std::size_t>(s.count), 1);
    s.masked.assign(static_cast<std::size_t>(s.count), 0);
    raw.resize(static_cast<std::size_t>(6 * panel));
    for (std::int64_t i = 0; i < s.count; ++i) {
      const std::int64_t w = s.first_window + i;
      const bool ok = observe::cut_window(cad_, block, panel_starts(w), panel_shear(w), shape.freq, shape.time, raw,
                                          &s.masked[static_cast<std::size_t>(i)]);
      s.valid[static_cast<std::size_t>(i)] = ok ? 1 : 0;
      if (baseline_ && ok) bin_panels(raw, s.panels.data_ptr<float>() + i * 6 * plan_.binned * shape.freq);
      if (ok && cadence_) cadence_(raw, CadenceKey{6, shape.time, shape.freq, w, nullptr});
      arrange(raw, layout_, standardize_ && ok,
              std::span<float>(s.images.data_ptr<float>() + i * image.numel(), static_cast<std::size_t>(image.numel())),
              shape);
    }
    return s;
  }

 private:
  std::int64_t start(std::int64_t w) const { return plan_.starts[static_cast<std::size_t>(w)]; }
  std::array<double, 6> panel_shear(std::int64_t w) const {
    return plan_.panel_shear.empty() ? std::array<double, 6>{} : plan_.panel_shear[static_cast<std::size_t>(w)];
  }
  std::array<std::int64_t, 6> panel_starts(std::int64_t w) const {
    if (!plan_.panel_starts.empty()) return plan_.panel_starts[static_cast<std::size_t>(w)];
    const std::int64_t f = start(w);
    return {f, f, f, f, f, f};
  }

  /// The six panels standardised, then averaged in bins of plan.bin rows: (6, binned, F) at `dst`.
  void bin_panels(const std::vector<float>& raw, float* dst) const {
    const auto& shape = plan_.shape;
    const std::int64_t panel = shape.time * shape.freq, bin = plan_.bin, binned = plan_.binned;
    for (std::int64_t p = 0; p < 6; ++p) {
      const float* src = raw.data() + p * panel;
      double sum = 0.0, sq = 0.0;
      for (std::int64_t k = 0; k < panel; ++k) {
        sum += src[k];
        sq += static_cast<double>(src[k]) * src[k];
      }
      const auto [mean, inv] = mean_and_inverse_std(sum, sq, static_cast<std::size_t>(panel));
      float* out = dst + p * binned * shape.freq;
      for (std::int64_t j = 0; j < binned; ++j)
        for (std::int64_t r = 0; r < bin; ++r)
          for (std::int64_t c = 0; c < shape.freq; ++c) out[j * shape.freq + c] += src[(j * bin + r) * shape.freq + c];
      const auto scale = static_cast<float>(inv / static_cast<double>(bin)), shift = static_cast<float>(mean * inv);
      for (std::int64_t k = 0; k < binned * shape.freq; ++k) out[k] = out[k] * scale - shift;
    }
  }

  const observe::Cadence& cad_;
  const ScanPlan& plan_;
  PanelLayout layout_;
  bool standardize_, baseline_;
  CadenceHook cadence_;
};

/// The line a scan prints as it starts: the cadence, what it searches or ranks, with what.
inline void print_scan_banner(const observe::Cadence& cad, const ScanOptions& so, const ScanPlan& plan,
                              std::size_t models, const torch::Device& device) {
  const auto& h = cad.header();
  std::string what;
  if (so.mode != ScanMode::windows) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "hits to +-%g Hz/s above SNR %g, events at filter %d", so.max_drift, so.snr,
                  so.filter);
    what = buf;
  }
  if (so.mode != ScanMode::events) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "%s%lld windows of %lld channels (overlap %d)", what.empty() ? "" : "; ",
                  static_cast<long long>(plan.windows), static_cast<long long>(plan.shape.freq), so.overlap);
    what += buf;
  }
  std::fprintf(stderr, "scan: %s, %lld channels (%.6f to %.6f MHz), %s, %zu model(s)%s on %s\n",
               h.source_name.empty() ? "cadence" : h.source_name.c_str(), static_cast<long long>(cad.nchans()),
               h.frequency(0), h.frequency(static_cast<double>(cad.nchans() - 1)), what.c_str(), models,
               so.tta ? " x TTA" : "", device.str().c_str());
}

/// The run's fold models, after the checks a resumed job makes: the pipeline can scan (Load, no
/// "nearest" background), the run is this config's (its fingerprint), and it has trained folds.
template <class P>
std::vector<std::pair<int, std::filesystem::path>> scan_models(const P& pipeline, const RunDir& run, int folds) {
  namespace fs = std::filesystem;
  if constexpr (P::template contains<Background>)
    if (pipeline.template get<Background>().options.mode == BackgroundMode::nearest)
      fail(
          "/background/mode: \"nearest\" subtracts the most similar cadence of a dataset, and a scan has no dataset; "
          "scan with a run trained with off_mean, off_median, off_panel or none");
  if (!fs::is_directory(run.root())) fail("--run: ", run.root().string(), " is not a directory");
  const auto fp = fingerprint::read(run.root());
  if (fp.is_object() && fp.contains("config") && !fp["config"].is_null()) {
    const auto diff = run.identity_check("finetune").config_differs(fp["config"]);
    if (!diff.empty())
      fail(run.root().string(), ": trained with another config (", diff,
           "); scan with the config the run was made with (", run.config().string(), ")");
  }
  run.verify("scan", /*fresh=*/false);  // weights without a fingerprint are refused
  auto models = run.fold_models(folds);
  if (models.empty())
    fail(run.root().string(), ": no trained fold (", RunDir::model(run.fold(0)).string(),
         ", ...) to scan with (run finetune first)");
  return models;
}

/// The fold networks, prepared for inference on `device`, each checked against the run (job, fold, config).
template <class P>
std::vector<torch::nn::Sequential> scan_networks(const P& pipeline, const Prepared& prepared,
                                                 std::vector<std::pair<int, std::filesystem::path>> models,
                                                 torch::Device device) {
  const auto shell = without_weights(pipeline);
  if (fresh_network(shell, prepared.cfg, device, 0)->parameters().empty())
    models.resize(1);  // nothing learnt: the folds agree
  std::vector<torch::nn::Sequential> nets;
  for (const auto& [k, path] : models) {
    auto net = fresh_network(shell, prepared.cfg, device, 0);
    load_module(net, path, prepared.dir.identity_check("finetune", k));
    prepare_for_inference(*net, prepared.cfg.predict.inference());
    net->eval();
    nets.push_back(net);
  }
  return nets;
}

/// Scores every window: the fold ensemble's mean probability (x the pipeline's TTA rounds when scan.tta),
/// through the prediction pieces predict uses (infer/predict.hpp), and the de-Doppler line. Windows come
/// from `threads` reading threads ahead of the network.
template <class P>
std::vector<Hit> score_windows(const P& pipeline, const CompetitionConfig& cfg, const observe::Cadence& cad,
                               const ScanPlan& plan, const WindowCutter& cutter,
                               std::vector<torch::nn::Sequential>& nets, int threads, torch::Device device) {
  const ScanOptions& so = cfg.scan;
  std::vector<Hit> hits(static_cast<std::size_t>(plan.windows));
  torch::NoGradGuard no_grad;
  AutocastGuard autocast(cfg.predict.amp, device);
  const std::vector<std::int64_t> positions{0, 1, 2, 3, 4, 5};
  const auto& h0 = cad.header();
  std::vector<std::int64_t> rows;  // the batch's window numbers: the TTA rounds' draws
  const RoundContext ctx = round_context(pipeline, cfg.run.seed, rows);
  OrderedPrefetch<ScanBatch> ahead(static_cast<std::size_t>(plan.batches), threads, std::max(2, threads + 1),
                                   std::cref(cutter));
  Progress bar("scan", plan.windows, cfg.run.quiet, "windows");
  while (auto next = ahead.next()) {
    ScanBatch& s = *next;
    rows.resize(static_cast<std::size_t>(s.count));
    std::iota(rows.begin(), rows.end(), s.first_window);
    const auto x = s.images.to(device);
    torch::Tensor prob = torch::zeros({s.count}, torch::kFloat64);
    for (auto& net : nets)
      with_rounds(pipeline, so.tta, [&](const auto& stage) {
        const auto p = stage.reduce(round_logits(stage, net, x, ctx), pipeline_head(pipeline)).to(torch::kFloat64);
        prob += p.reshape({s.count}) / static_cast<double>(nets.size());
      });
    std::optional<dedoppler::Best> best;
    if (cutter.baseline()) {
      AutocastPause fp32(device);
      best = dedoppler::search(s.panels.to(device), positions, plan.search);
      best->score = (best->score * std::sqrt(static_cast<double>(plan.bin))).to(torch::kCPU);
      best->drift = (best->drift / static_cast<double>(plan.bin))
                        .to(torch::kCPU);  // channels per resampled row, as step_s counts
      best->channel = best->channel.to(torch::kCPU);
    }
    for (std::int64_t i = 0; i < s.count; ++i) {
      const std::int64_t w = s.first_window + i;
      Hit& hit = hits[static_cast<std::size_t>(w)];
      hit.window = w;
      hit.first = plan.starts[static_cast<std::size_t>(w)];
      hit.width = plan.shape.freq;
      hit.valid = s.valid[static_cast<std::size_t>(i)] != 0;
      hit.masked = s.masked[static_cast<std::size_t>(i)];
      hit.score = hit.valid ? prob[i].item<double>() : 0.0;
      if (best && hit.valid) {
        hit.snr = best->score[i].item<double>();
        hit.drift = best->drift[i].item<double>() * h0.foff * 1e6 / plan.step_s;
        hit.line_mhz = h0.frequency(static_cast<double>(hit.first + best->channel[i].item<std::int64_t>()));
      }
    }
    bar.advance(s.count);
  }
  return hits;
}

/// A hit's band, low and high edge (MHz).
inline std::pair<double, double> band(const observe::Cadence& cad, const Hit& h) {
  const auto& h0 = cad.header();
  const double a = h0.frequency(static_cast<double>(h.first)),
               b = h0.frequency(static_cast<double>(h.first + h.width - 1));
  return {std::min(a, b), std::max(a, b)};
}

/// hits.csv: every window ranked by score.
inline void write_hits_csv(const std::filesystem::path& path, const observe::Cadence& cad,
                           const std::vector<Hit>& ranked) {
  const auto& h0 = cad.header();
  write_text_atomically(path, [&](std::ostream& o) {
    o << "rank,window,channel_start,channel_end,freq_low_mhz,freq_high_mhz,freq_centre_mhz,score,dedoppler_drift_hz_s,"
         "dedoppler_snr,dedoppler_freq_mhz\n";
    char buf[64];
    for (std::size_t k = 0; k < ranked.size(); ++k) {
      const Hit& h = ranked[k];
      const auto [lo, hi] = band(cad, h);
      o << k + 1 << ',' << h.window << ',' << h.first << ',' << h.first + h.width << ',' << mhz(lo) << ',' << mhz(hi)
        << ',' << mhz(h0.frequency(static_cast<double>(h.first) + 0.5 * static_cast<double>(h.width - 1)));
      std::snprintf(buf, sizeof buf, ",%.6g", h.score);
      o << buf;
      if (std::isnan(h.snr))
        o << ",,,";
      else {
        std::snprintf(buf, sizeof buf, ",%.6g,%.4g,", h.drift, h.snr);
        o << buf << mhz(h.line_mhz);
      }
      o << '\n';
    }
  });
}

/// Writes a PNG (atomically) and returns it in base64, for scan.html.
inline std::string save_png(const std::filesystem::path& path, const std::vector<std::uint8_t>& bytes) {
  write_text_atomically(path, [&](std::ostream& o) {
    o.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  });
  return observe::base64(bytes);
}

/// waterfalls/hit_<k>.png of the top hits; returns each PNG in base64, for scan.html.
inline std::vector<std::string> write_waterfalls(const std::filesystem::path& dir, const observe::Cadence& cad,
                                                 const std::vector<Hit>& top) {
  std::vector<std::string> images;
  for (std::size_t k = 0; k < top.size(); ++k) {
    char name[48];
    std::snprintf(name, sizeof name, "hit_%03zu.png", k + 1);
    images.push_back(save_png(dir / name, observe::waterfall_png(cad, top[k].first, top[k].width)));
  }
  return images;
}

/// waterfalls/event_<k>.png of the top events: the channels the event's path crosses in the six files
/// (with 64 on each side, at most 4096), its fitted drift line drawn; returns each PNG in base64.
inline std::vector<std::string> write_event_waterfalls(const std::filesystem::path& dir, const observe::Cadence& cad,
                                                       const ScanSearch& x, std::size_t top) {
  std::vector<std::string> images;
  const auto& h0 = cad.header();
  for (std::size_t k = 0; k < std::min(top, x.events.size()); ++k) {
    const ScanEvent& e = x.events[k];
    const double per_s = e.event.drift / (h0.foff * 1e6);  // channels per second
    auto line = [&](std::size_t p, double row) {
      const auto& h = cad.header(p);
      return static_cast<double>(e.channel) + per_s * ((h.tstart - h0.tstart) * 86400.0 + row * h.tsamp);
    };
    double lo = line(0, 0.0), hi = lo;
    for (std::size_t p = 0; p < 6; ++p)
      for (double row : {0.0, static_cast<double>(cad.header(p).nsamples - 1)}) {
        lo = std::min(lo, line(p, row));
        hi = std::max(hi, line(p, row));
      }
    const std::int64_t width =
        std::clamp<std::int64_t>(std::llround(hi - lo) + 128, 256, std::min<std::int64_t>(4096, cad.nchans()));
    const std::int64_t first =
        std::clamp<std::int64_t>(std::llround(0.5 * (lo + hi)) - width / 2, 0, cad.nchans() - width);
    char name[48];
    std::snprintf(name, sizeof name, "event_%03zu.png", k + 1);
    images.push_back(save_png(dir / name, observe::waterfall_png(cad, first, width, line)));
  }
  return images;
}

/// scan.json: what was scanned, how fast, and the top hits, for programs.
inline void write_scan_json(const std::filesystem::path& path, const observe::Cadence& cad, const ScanResult& r,
                            const ScanOptions& so, const std::string& device, int threads,
                            const std::vector<Hit>& top) {
  config::json summary = {{"windows", r.windows},
                          {"skipped_windows", r.skipped},
                          {"masked_windows", r.masked_windows},
                          {"masked_samples", r.masked_samples},
                          {"channels", cad.nchans()},
                          {"overlap", so.overlap},
                          {"models", r.models},
                          {"tta", so.tta},
                          {"device", device},
                          {"reading_threads", threads},
                          {"seconds", r.seconds},
                          {"windows_per_s", r.windows_per_s},
                          {"run", r.run.string()}};
  config::json files = config::json::array();
  for (std::size_t p = 0; p < 6; ++p) {
    const auto& h = cad.header(p);
    files.push_back({{"position", p + 1},
                     {"on", p % 2 == 0},
                     {"file", h.file.string()},
                     {"source_name", h.source_name},
                     {"nsamples", h.nsamples},
                     {"tsamp", h.tsamp},
                     {"nbits", h.nbits}});
  }
  summary["files"] = files;
  config::json jtop = config::json::array();
  for (std::size_t k = 0; k < top.size(); ++k) {
    const Hit& h = top[k];
    config::json e = {{"rank", k + 1},
                      {"window", h.window},
                      {"channel_start", h.first},
                      {"channel_end", h.first + h.width},
                      {"score", h.score}};
    if (!std::isnan(h.snr)) {
      e["dedoppler_drift_hz_s"] = h.drift;
      e["dedoppler_snr"] = h.snr;
      e["dedoppler_freq_mhz"] = h.line_mhz;
    }
    jtop.push_back(e);
  }
  summary["top"] = jtop;
  summary["mode"] = std::string(so.mode == ScanMode::events    ? "events"
                                : so.mode == ScanMode::windows ? "windows"
                                                               : "both");
  if (so.mode != ScanMode::windows) summary["search"] = search_json(r.search, so);
  write_text_atomically(path, [&](std::ostream& o) { o << summary.dump(2) << '\n'; });
}

/// scan.html's events: what was searched, the .dat files, and the ranked events with their waterfalls.
inline std::string events_html(const ScanSearch& x, const ScanOptions& so, const std::vector<std::string>& images) {
  std::ostringstream html;
  char buf[400];
  std::snprintf(buf, sizeof buf,
                "Hits: every drift within &plusmn;%g Hz/s (%lld rates, %.4g Hz/s apart) above SNR %g; events at "
                "find_event's filter level %d; %.1f s.",
                so.max_drift, static_cast<long long>(x.drifts), x.drift_step, so.snr, so.filter, x.seconds);
  html << "<h2>Events</h2><p>" << buf << "</p>";
  if (so.off_snr > 0.0) {
    std::snprintf(buf, sizeof buf,
                  "%zu more passed find_event's filter but show along their path in the OFF files above SNR %g "
                  "(scan.off_snr): interference, listed in scan.json under search.vetoed.",
                  x.vetoed.size(), so.off_snr);
    html << "<p>" << buf << "</p>";
  }
  if (x.masked > 0) html << "<p>" << x.masked << " NaN/Inf samples masked (each replaced by its row's median).</p>";
  html << "<table><tr><th>file</th><th>hits</th></tr>";
  for (std::size_t p = 0; p < 6; ++p)
    html << "<tr><td>" << report::escape(x.dat_paths[p].filename().string()) << "</td><td>" << x.dats[p].hits.size()
         << "</td></tr>";
  html << "</table><table><tr><th>rank</th><th>MHz</th><th>drift (Hz/s)</th><th>SNR</th><th>SNR in ON 1, 2, "
          "3</th><th>OFF SNR on its path</th><th>score</th><th>waterfall (ON, OFF, ON, OFF, ON, OFF; power in "
          "dB)</th></tr>";
  for (std::size_t k = 0; k < x.events.size(); ++k) {
    const ScanEvent& e = x.events[k];
    std::snprintf(buf, sizeof buf, "<tr><td>%zu</td><td>%.6f</td><td>%.4f</td><td>%.1f</td><td>", k + 1,
                  e.event.frequency, e.event.drift, e.event.snr);
    html << buf;
    for (std::size_t j = 0; j < 3; ++j) {
      if (std::isnan(e.snr[j]))
        html << (j ? ", " : "") << "&ndash;";
      else {
        std::snprintf(buf, sizeof buf, "%s%.1f", j ? ", " : "", e.snr[j]);
        html << buf;
      }
    }
    if (std::isnan(e.path.off))
      html << "</td><td>&ndash;";
    else {
      std::snprintf(buf, sizeof buf, "</td><td>%.1f", e.path.off);
      html << buf;
    }
    if (std::isnan(e.score))
      html << "</td><td>&ndash;</td>";
    else {
      std::snprintf(buf, sizeof buf, "</td><td>%.4f</td>", e.score);
      html << buf;
    }
    html << "<td>";
    if (k < images.size())
      html << "<img alt=\"event " << k + 1 << "\" src=\"data:image/png;base64," << images[k] << "\">";
    html << "</td></tr>";
  }
  html << "</table>";
  return html.str();
}

/// scan.html: the observation, the score along the band, the top hits with their waterfalls.
inline void write_scan_html(const std::filesystem::path& path, const observe::Cadence& cad, const ScanResult& r,
                            const ScanOptions& so, const std::string& device, const std::vector<Hit>& by_window,
                            const std::vector<std::string>& images, const std::vector<std::string>& event_images) {
  const auto& h0 = cad.header();
  std::ostringstream html;
  const std::string title = "cadence scan: " + (h0.source_name.empty() ? std::string("cadence") : h0.source_name);
  html << "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>" << report::escape(title) << "</title><style>"
       << "body{font-family:sans-serif;margin:24px;color:#222}table{border-collapse:collapse;margin:8px 0 20px}"
       << "td,th{border:1px solid #ccc;padding:4px "
          "8px;font-size:13px;text-align:left;vertical-align:top}th{background:#f4f4f4}"
       << "img{image-rendering:pixelated;display:block}.on{font-weight:bold}</style></head><body><h1>"
       << report::escape(title) << "</h1>";
  html << "<h2>Observation</h2><table><tr><th>position</th><th></th><th>file</th><th>source</th><th>time "
          "samples</th><th>tsamp (s)</th><th>nbits</th></tr>";
  for (std::size_t p = 0; p < 6; ++p) {
    const auto& h = cad.header(p);
    html << "<tr><td>" << p + 1 << "</td><td" << (p % 2 == 0 ? " class=\"on\">ON" : ">OFF") << "</td><td>"
         << report::escape(h.file.string()) << "</td><td>" << report::escape(h.source_name) << "</td><td>" << h.nsamples
         << "</td><td>" << h.tsamp << "</td><td>" << h.nbits << "</td></tr>";
  }
  char line[256];
  std::snprintf(
      line, sizeof line,
      "%lld channels, %.6f to %.6f MHz; %lld windows of %lld channels (overlap %d)%s; %zu model(s)%s on %s; %.1f s, "
      "%.1f windows/s",
      static_cast<long long>(cad.nchans()), h0.frequency(0), h0.frequency(static_cast<double>(cad.nchans() - 1)),
      static_cast<long long>(r.windows), static_cast<long long>(by_window.empty() ? 0 : by_window.front().width),
      so.overlap,
      (r.skipped > 0 ? ", " + std::to_string(r.skipped) + " skipped (a panel all NaN/Inf, or no power)" : std::string())
          .c_str(),
      r.models, so.tta ? " x TTA" : "", device.c_str(), r.seconds, r.windows_per_s);
  html << "</table>";
  if (so.mode != ScanMode::windows) html << events_html(r.search, so, event_images);
  if (so.mode == ScanMode::events) {
    html << "</body></html>\n";
    write_text_atomically(path, [&](std::ostream& o) { o << html.str(); });
    return;
  }
  html << "<h2>Windows</h2><p>" << report::escape(line) << "</p>";
  if (r.masked_windows > 0)
    html << "<p>" << r.masked_samples << " NaN/Inf samples masked (each replaced by its panel's mean) in "
         << r.masked_windows << " windows.</p>";
  // the score along the band: each point the best window of a bucket, at most ~1000 of them
  report::Series along{"score", {}, false};
  const std::size_t per = std::max<std::size_t>(1, by_window.size() / 1000);
  for (std::size_t i = 0; i < by_window.size(); i += per) {
    std::size_t arg = i;
    for (std::size_t k = i; k < std::min(by_window.size(), i + per); ++k)
      if (by_window[k].score > by_window[arg].score) arg = k;
    along.points.emplace_back(
        h0.frequency(static_cast<double>(by_window[arg].first) + 0.5 * static_cast<double>(by_window[arg].width)),
        by_window[arg].score);
  }
  std::sort(along.points.begin(), along.points.end());
  html << report::line_chart("score along the band", "frequency (MHz)", {along});
  html
      << "<h2>Top " << images.size()
      << " hits</h2><table><tr><th>rank</th><th>channels</th><th>MHz</th><th>score</th><th>de-Doppler drift (Hz/s)</th>"
      << "<th>de-Doppler SNR</th><th>waterfall (ON, OFF, ON, OFF, ON, OFF; power in dB)</th></tr>";
  for (std::size_t k = 0; k < images.size(); ++k) {
    const Hit& h = r.hits[k];
    const auto [lo, hi] = band(cad, h);
    char buf[200];
    std::snprintf(buf, sizeof buf, "<tr><td>%zu</td><td>%lld&ndash;%lld</td><td>%.6f&ndash;%.6f</td><td>%.4f</td>",
                  k + 1, static_cast<long long>(h.first), static_cast<long long>(h.first + h.width - 1), lo, hi,
                  h.score);
    html << buf;
    if (std::isnan(h.snr))
      html << "<td>&ndash;</td><td>&ndash;</td>";
    else {
      std::snprintf(buf, sizeof buf, "<td>%.4g</td><td>%.3g</td>", h.drift, h.snr);
      html << buf;
    }
    html << "<td><img alt=\"hit " << k + 1 << "\" src=\"data:image/png;base64," << images[k] << "\"></td></tr>";
  }
  html << "</table></body></html>\n";
  write_text_atomically(path, [&](std::ostream& o) { o << html.str(); });
}

}  // namespace detail

/// Scans the cadence `files` with the run in `run_dir` (its fold models), configured by `j` (the run's
/// config: the pipeline's stages, and the "scan" section). The phases: check the run and the files,
/// load the folds, score the windows, write the outputs.
template <class P>
ScanResult scan(P pipeline, const config::json& j, const std::vector<std::filesystem::path>& files,
                const std::filesystem::path& run_dir) {
  namespace fs = std::filesystem;
  detail::Prepared prepared;
  auto& cfg = prepared.cfg;
  config::read_config(j, pipeline, cfg);
  cfg.validate();
  cfg.run.dir = run_dir;
  if constexpr (!requires {
                  source_of(pipeline).options.layout;
                  source_of(pipeline).options.standardize;
                }) {
    fail("scan: the pipeline's source is not Load; a scan reads windows the way Load reads the competition's files");
  } else {
    // check: the run, the files, the output directory (every input check before any work)
    prepared.dir = RunDir(run_dir);
    const auto [identity, defaults] = detail::identity_of(pipeline, cfg);
    prepared.dir.set_identity(identity, defaults);
    const auto models = detail::scan_models(pipeline, prepared.dir, cfg.train.folds);
    const ScanOptions& so = cfg.scan;
    const observe::Cadence cad(files, so.on);
    const auto& load = source_of(pipeline);
    const detail::ScanPlan plan(cad, so, load.options.layout);
    RunDir out(so.out.empty() ? run_dir / "scan" : so.out);
    out.take();  // two scans into one directory: the second stops here

    // load the folds
    const auto started = std::chrono::steady_clock::now();
    const torch::Device device = cfg.run.apply();
    auto nets = detail::scan_networks(pipeline, prepared, models, device);
    const int threads =
        so.threads > 0 ? so.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    if (!cfg.run.quiet) detail::print_scan_banner(cad, so, plan, nets.size(), device);
    ScanResult r;
    r.mode = so.mode;
    r.models = nets.size();
    if (so.tta) with_predict_stage(pipeline, [&](const auto& stage) { r.rounds = stage.rounds(); });
    r.dir = out.root();
    r.run = run_dir;
    auto cutter_for = [&](const detail::ScanPlan& p, bool baseline) {
      return detail::WindowCutter(cad, p, load.options.layout, load.options.standardize, baseline,
                                  source_hooks(pipeline).cadence);
    };

    // search: hits in every drift, a .dat per file, the ON/OFF events, each scored along its path
    if (so.mode != ScanMode::windows) {
      r.search = detail::search_cadence(cad, so, threads, out.root(), cfg.run.quiet,
                                        device.is_cuda() ? detect::torch_drift_search(device) : detect::DriftSearch{});
      detail::find_cadence_events(cad, so, plan.shape.freq, r.search);
      std::vector<std::array<std::int64_t, 6>> firsts;
      std::vector<std::array<double, 6>> shear;
      for (const auto& e : r.search.events) {
        firsts.push_back(e.panels);
        shear.push_back(e.shear);
      }
      if (!firsts.empty()) {
        const detail::ScanPlan at = plan.at(firsts, shear);
        const auto scored = detail::score_windows(pipeline, cfg, cad, at, cutter_for(at, false), nets, threads, device);
        for (std::size_t k = 0; k < scored.size(); ++k) {
          r.search.events[k].score = scored[k].valid ? scored[k].score : NAN;
          r.search.events[k].masked = scored[k].masked;
        }
      }
      detail::rank_events(r.search.events);
      r.search.csv = out.root() / "events.csv";
      detail::write_events_csv(r.search.csv, r.search);
    }

    // rank every window of the band (the first scan's way)
    std::vector<Hit> by_window;
    if (so.mode != ScanMode::events) {
      by_window = detail::score_windows(pipeline, cfg, cad, plan, cutter_for(plan, so.baseline), nets, threads, device);
      r.windows = plan.windows;
      for (const auto& h : by_window) {
        r.skipped += h.valid ? 0 : 1;
        r.masked_windows += h.masked > 0 ? 1 : 0;
        r.masked_samples += h.masked;
      }
      r.hits = by_window;
      std::stable_sort(r.hits.begin(), r.hits.end(), [](const Hit& a, const Hit& b) { return a.score > b.score; });
      r.csv = out.root() / "hits.csv";
      detail::write_hits_csv(r.csv, cad, r.hits);
    }
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    r.windows_per_s = static_cast<double>(r.windows) / std::max(r.seconds, 1e-9);

    // write: the top windows' or events' waterfalls, scan.json, scan.html
    const auto top_count = static_cast<std::size_t>(so.top);
    const std::vector<Hit> top(r.hits.begin(),
                               r.hits.begin() + static_cast<std::ptrdiff_t>(std::min(top_count, r.hits.size())));
    const auto waterfalls = out.make_dir(out.root() / "waterfalls");
    const auto images = detail::write_waterfalls(waterfalls, cad, top);
    const auto event_images = detail::write_event_waterfalls(waterfalls, cad, r.search, top_count);
    r.html = out.root() / "scan.html";
    detail::write_scan_html(r.html, cad, r, so, device.str(), by_window, images, event_images);
    // last: a survey (--manifest) counts a cadence's directory complete once scan.json is there
    detail::write_scan_json(out.root() / "scan.json", cad, r, so, device.str(), threads, top);
    return r;
  }
}

}  // namespace recipes
}  // namespace cadence
