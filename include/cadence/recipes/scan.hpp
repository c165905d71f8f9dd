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
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <numeric>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <torch/nn.h>

#include "cadence/core/atomic_file.hpp"
#include "cadence/core/progress.hpp"
#include "cadence/core/run_lock.hpp"
#include "cadence/data/png.hpp"
#include "cadence/detect/background.hpp"
#include "cadence/detect/dedoppler.hpp"
#include "cadence/observe/cadence.hpp"
#include "cadence/recipes/competition.hpp"
#include "cadence/train/report.hpp"

namespace cadence {

/// One scanned window.
struct Hit {
  std::int64_t window = 0, first = 0, width = 0;  // window number, its channels [first, first + width)
  double score = 0.0;                             // the fold ensemble's P(signal)
  double drift = NAN, snr = NAN, line_mhz = NAN;  // the de-Doppler line: Hz/s, ON-minus-OFF z, start frequency
  bool valid = true;                              // false: NaN/Inf or no power in the window (scored 0)
};

struct ScanResult {
  std::vector<Hit> hits;  // ranked, best first
  std::int64_t windows = 0, skipped = 0;
  std::size_t models = 0;  // fold models
  int rounds = 1;          // TTA rounds per model (1 without scan.tta)
  double seconds = 0.0, windows_per_s = 0.0;
  std::filesystem::path dir, csv, html;
};

namespace observe {

/// matplotlib's viridis, from nine of its colours, linearly between them.
inline std::array<std::uint8_t, 3> viridis(double t) {
  static constexpr std::uint8_t k[9][3] = {{68, 1, 84},    {71, 44, 122},  {59, 81, 139},  {44, 113, 142}, {33, 144, 141},
                                           {39, 173, 129}, {92, 200, 99},  {170, 220, 50}, {253, 231, 37}};
  t = std::clamp(std::isfinite(t) ? t : 0.0, 0.0, 1.0) * 8.0;
  const int i = std::min(7, static_cast<int>(t));
  const double f = t - i;
  std::array<std::uint8_t, 3> c{};
  for (int j = 0; j < 3; ++j) c[static_cast<std::size_t>(j)] = static_cast<std::uint8_t>(k[i][j] + f * (k[i + 1][j] - k[i][j]) + 0.5);
  return c;
}

/// A waterfall of channels [first, first + width) as blimpy's plot_waterfall draws a cadence: the six
/// panels stacked top to bottom in observing order, time down, frequency across, power in dB on one
/// colour scale (viridis, the 0.5th to 99.5th percentile), a white rule between panels. PNG bytes.
inline std::vector<std::uint8_t> waterfall_png(const Cadence& c, std::int64_t first, std::int64_t width) {
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
    for (std::int64_t r = 0; r < rows[p]; ++r)
      for (std::int64_t k = 0; k < repeat; ++k)
        for (std::int64_t x = 0; x < width; ++x) {
          const auto col = viridis((panels[p][static_cast<std::size_t>(r * width + x)] - lo) / (hi - lo));
          for (std::int64_t s = 0; s < kScaleX; ++s) px.insert(px.end(), col.begin(), col.end());
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
  torch::Tensor images;      // (n,C,H,W): what the network reads
  torch::Tensor panels;      // (n,6,T,F): the six panels standardised, for the de-Doppler line (undefined when off)
  std::vector<char> valid;   // per window
  std::exception_ptr error;
};

/// Reading threads that cut batches of windows in order, at most `prefetch` ahead of the consumer.
class WindowReader {
 public:
  using Cut = std::function<void(std::int64_t batch, ScanBatch&)>;
  WindowReader(std::int64_t batches, int threads, int prefetch, Cut cut) : batches_(batches), prefetch_(prefetch), cut_(std::move(cut)) {
    for (int t = 0; t < threads; ++t) workers_.emplace_back([this] { work(); });
  }
  WindowReader(const WindowReader&) = delete;
  WindowReader& operator=(const WindowReader&) = delete;
  ~WindowReader() {
    {
      std::lock_guard lk(m_);
      stop_ = true;
    }
    space_.notify_all();
    for (auto& w : workers_) w.join();
  }
  /// The next batch in order (a reading error is rethrown here); false at the end.
  bool next(ScanBatch& out) {
    std::unique_lock lk(m_);
    if (consumed_ == batches_) return false;
    ready_.wait(lk, [&] { return done_.count(consumed_) != 0; });
    auto node = done_.extract(consumed_);
    ++consumed_;
    lk.unlock();
    space_.notify_all();
    if (node.mapped().error) std::rethrow_exception(node.mapped().error);
    out = std::move(node.mapped());
    return true;
  }

 private:
  void work() {
    (void)at::get_num_threads();
#ifdef _OPENMP
    omp_set_num_threads(1);  // each reader is a lane of its own (see data/loader.hpp)
#endif
    for (;;) {
      std::unique_lock lk(m_);
      space_.wait(lk, [&] { return stop_ || claimed_ >= batches_ || claimed_ < consumed_ + prefetch_; });
      if (stop_ || claimed_ >= batches_) return;
      const std::int64_t b = claimed_++;
      lk.unlock();
      ScanBatch s;
      try {
        cut_(b, s);
      } catch (...) {
        s.error = std::current_exception();
      }
      lk.lock();
      done_.emplace(b, std::move(s));
      lk.unlock();
      ready_.notify_all();
    }
  }
  std::int64_t batches_;
  std::int64_t prefetch_;
  Cut cut_;
  std::mutex m_;
  std::condition_variable space_, ready_;
  std::int64_t claimed_ = 0, consumed_ = 0;
  bool stop_ = false;
  std::map<std::int64_t, ScanBatch> done_;
  std::vector<std::thread> workers_;
};

inline std::string mhz(double f) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.6f", f);
  return buf;
}

}  // namespace detail

/// Scans the cadence `files` with the run in `run_dir` (its fold_<k>/model.pt), configured by `j` (the
/// run's config: the pipeline's stages, and the "scan" section).
template <class P>
ScanResult scan(P pipeline, const config::json& j, const std::vector<std::filesystem::path>& files, const std::filesystem::path& run_dir) {
  namespace fs = std::filesystem;
  CompetitionConfig cfg;
  config::read_config(j, pipeline, cfg);
  cfg.validate();
  cfg.run.dir = run_dir;
  if constexpr (!requires { source_of(pipeline).options.layout; source_of(pipeline).options.standardize; }) {
    fail("scan: the pipeline's source is not Load; a scan reads windows the way Load reads the competition's files");
  } else {
    if constexpr (P::template contains<Background>)
      if (pipeline.template get<Background>().options.mode == BackgroundMode::nearest)
        fail("/background/mode: \"nearest\" subtracts the most similar cadence of a dataset, and a scan has no dataset; "
             "scan with a run trained with off_mean, off_median, off_panel or none");
    // the run must be this config's (the same check a resumed job makes)
    const auto resolved = config::write_config(pipeline, cfg);
    const auto identity = fingerprint::of_config(resolved, detail::prediction_sections(pipeline));
    const auto defaults = fingerprint::of_config(config::write_config(P{}, CompetitionConfig{}), detail::prediction_sections(pipeline));
    if (!fs::is_directory(run_dir)) fail("--run: ", run_dir.string(), " is not a directory");
    const auto fp = fingerprint::read(run_dir);
    if (fp.is_object() && fp.contains("config") && !fp["config"].is_null() && !fingerprint::same_config(fp["config"], identity, defaults))
      fail(run_dir.string(), ": trained with another config (", fingerprint::differences(fp["config"], identity, 6, defaults),
           "); scan with the config the run was made with (", (run_dir / "config.json").string(), ")");
    std::vector<fs::path> models;
    for (int k = 0; k < cfg.train.folds; ++k)
      if (fs::exists(run_dir / ("fold_" + std::to_string(k)) / "model.pt")) models.push_back(run_dir / ("fold_" + std::to_string(k)) / "model.pt");
    if (models.empty()) fail(run_dir.string(), ": no fold_<k>/model.pt to scan with (run finetune first)");

    const ScanOptions& so = cfg.scan;
    const observe::Cadence cad(files, so.on);  // every input check before any work
    const CadenceShape shape{};                // the training shape: 6 x 273 x 256
    if (cad.nchans() < shape.freq)
      fail(cad.header().file.string(), ": ", cad.nchans(), " channels, fewer than one window of the trained model's ", shape.freq);
    const auto starts = observe::window_starts(cad.nchans(), shape.freq, so.overlap);
    const auto n = static_cast<std::int64_t>(starts.size());
    const fs::path out = so.out.empty() ? run_dir / "scan" : so.out;
    RunLock lock(out);  // two scans into one directory: the second stops here

    const auto started = std::chrono::steady_clock::now();
    const torch::Device device = cfg.run.apply();
    const auto& load = source_of(pipeline);
    const ImageShape image = image_shape(load.options.layout, shape);
    const auto shell = without_weights(pipeline);
    std::vector<torch::nn::Sequential> nets;
    if (detail::fresh_network(shell, cfg, device, 0)->parameters().empty()) models.resize(1);  // nothing learnt: the folds agree
    for (const auto& m : models) {
      auto net = detail::fresh_network(shell, cfg, device, 0);
      load_module(net, m);
      prepare_for_inference(*net, cfg.predict.inference());
      net->eval();
      nets.push_back(net);
    }
    const Head head = pipeline_head(pipeline);
    const auto hooks = source_hooks(pipeline);
    const std::int64_t B = so.batch, batches = (n + B - 1) / B;
    const std::int64_t panel = shape.time * shape.freq;

    // The de-Doppler line of each window (scan.baseline): the search of detect/dedoppler.hpp with its default
    // drift range, on the six standardised panels. Rows resampled from few samples hold no more than those
    // samples, so the readers average them back in bins of about one sample (16 samples: bins of 17 rows, not
    // the default 3) and hand the search (n,6,T/bin,F): 17x less to carry, 5.7x less to search. The search then
    // runs with bins of 1 and the drift range in binned rows, and its z-scores are scaled back by sqrt(bin): the
    // numbers of searching the full windows with bins of `bin`, up to the panels' start times rounding to whole bins.
    DeDopplerOptions dd;
    std::int64_t fewest = shape.time;
    for (std::size_t p = 0; p < 6; ++p) fewest = std::min(fewest, cad.header(p).nsamples);
    const std::int64_t bin = std::max<std::int64_t>(dd.time_bin, shape.time / std::max<std::int64_t>(1, fewest));
    const std::int64_t binned = shape.time / bin;
    DeDopplerOptions dd_binned = dd;
    dd_binned.time_bin = 1;
    dd_binned.drift_max = dd.drift_max * static_cast<double>(bin);
    auto cut = [&](std::int64_t b, detail::ScanBatch& s) {
      thread_local observe::Block block;
      thread_local std::vector<float> raw;
      s.first_window = b * B;
      s.count = std::min(B, n - s.first_window);
      const std::int64_t lo = starts[static_cast<std::size_t>(s.first_window)];
      const std::int64_t hi = starts[static_cast<std::size_t>(s.first_window + s.count - 1)] + shape.freq;
      observe::read_block(cad, lo, hi - lo, block);
      s.images = torch::empty({s.count, image.channels, image.height, image.width}, torch::kFloat32);
      if (so.baseline) s.panels = torch::zeros({s.count, 6, binned, shape.freq}, torch::kFloat32);
      s.valid.assign(static_cast<std::size_t>(s.count), 1);
      raw.resize(static_cast<std::size_t>(6 * panel));
      for (std::int64_t i = 0; i < s.count; ++i) {
        const std::int64_t w = s.first_window + i;
        const bool ok = observe::cut_window(cad, block, starts[static_cast<std::size_t>(w)], shape.freq, shape.time, raw);
        s.valid[static_cast<std::size_t>(i)] = ok ? 1 : 0;
        if (so.baseline && ok)
          for (std::int64_t p = 0; p < 6; ++p) {  // standardised, then averaged in bins of `bin` rows
            const float* src = raw.data() + p * panel;
            double sum = 0.0, sq = 0.0;
            for (std::int64_t k = 0; k < panel; ++k) { sum += src[k]; sq += static_cast<double>(src[k]) * src[k]; }
            const auto [mean, inv] = mean_and_inverse_std(sum, sq, static_cast<std::size_t>(panel));
            float* dst = s.panels.data_ptr<float>() + (i * 6 + p) * binned * shape.freq;
            for (std::int64_t j = 0; j < binned; ++j)
              for (std::int64_t r = 0; r < bin; ++r)
                for (std::int64_t c = 0; c < shape.freq; ++c) dst[j * shape.freq + c] += src[(j * bin + r) * shape.freq + c];
            const auto scale = static_cast<float>(inv / static_cast<double>(bin)), shift = static_cast<float>(mean * inv);
            for (std::int64_t k = 0; k < binned * shape.freq; ++k) dst[k] = dst[k] * scale - shift;
          }
        if (ok && hooks.cadence) hooks.cadence(raw, CadenceKey{6, shape.time, shape.freq, w, nullptr});
        arrange(raw, load.options.layout, load.options.standardize && ok,
                std::span<float>(s.images.data_ptr<float>() + i * image.numel(), static_cast<std::size_t>(image.numel())), shape);
      }
    };
    const int threads = so.threads > 0 ? so.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));

    if (!cfg.run.quiet) {
      const auto& h = cad.header();
      std::fprintf(stderr, "scan: %s, %lld channels (%.6f to %.6f MHz), %lld windows of %lld channels (overlap %d), %zu model(s)%s on %s\n",
                   h.source_name.empty() ? "cadence" : h.source_name.c_str(), static_cast<long long>(cad.nchans()), h.frequency(0),
                   h.frequency(static_cast<double>(cad.nchans() - 1)), static_cast<long long>(n), static_cast<long long>(shape.freq),
                   so.overlap, nets.size(), so.tta ? " x TTA" : "", device.str().c_str());
    }
    std::vector<Hit> hits(static_cast<std::size_t>(n));
    {
      torch::NoGradGuard no_grad;
      AutocastGuard autocast(cfg.predict.amp, device);
      const std::vector<std::int64_t> positions{0, 1, 2, 3, 4, 5};
      const auto& h0 = cad.header();
      const double step_s = h0.tsamp * static_cast<double>(h0.nsamples) / static_cast<double>(shape.time);  // one resampled row
      std::vector<std::int64_t> rows;
      RoundContext ctx;
      if constexpr (has_augmentation<P>())
        ctx.augment = [&](torch::Tensor& x, int round) {
          AutocastPause fp32(x.device());
          apply_sample_stages(pipeline, x, SampleKey{cfg.run.seed, kTtaEpochBase + static_cast<std::uint32_t>(round), rows}, Phase::tta);
        };
      detail::WindowReader reader(batches, threads, std::max(2, threads + 1), cut);
      Progress bar("scan", n, cfg.run.quiet, "windows");
      detail::ScanBatch s;
      while (reader.next(s)) {
        rows.resize(static_cast<std::size_t>(s.count));
        std::iota(rows.begin(), rows.end(), s.first_window);
        const auto x = s.images.to(device);
        torch::Tensor prob = torch::zeros({s.count}, torch::kFloat64);
        for (auto& net : nets) {
          const bool nhwc = is_channels_last(*net);
          auto rounds = [&](const auto& stage) {
            std::vector<torch::Tensor> logits;
            for (int r = 0; r < stage.rounds(); ++r) {
              const auto in = stage.round_input(x, r, ctx);
              logits.push_back(net->forward(nhwc ? as_channels_last(in) : in).to(torch::kCPU));
            }
            return stage.reduce(logits, head).to(torch::kFloat64);
          };
          torch::Tensor p;
          if (!(so.tta && with_predict_stage(pipeline, [&](const auto& stage) { p = rounds(stage); }))) p = rounds(cadence::detail::PlainRound{});
          prob += p.reshape({s.count}) / static_cast<double>(nets.size());
        }
        std::optional<dedoppler::Best> best;
        if (so.baseline) {
          AutocastPause fp32(device);
          best = dedoppler::search(s.panels.to(device), positions, dd_binned);
          best->score = best->score * std::sqrt(static_cast<double>(bin));
          best->drift = best->drift / static_cast<double>(bin);  // channels per resampled row, as step_s counts
          best->score = best->score.to(torch::kCPU);
          best->drift = best->drift.to(torch::kCPU);
          best->channel = best->channel.to(torch::kCPU);
        }
        for (std::int64_t i = 0; i < s.count; ++i) {
          const std::int64_t w = s.first_window + i;
          Hit& hit = hits[static_cast<std::size_t>(w)];
          hit.window = w;
          hit.first = starts[static_cast<std::size_t>(w)];
          hit.width = shape.freq;
          hit.valid = s.valid[static_cast<std::size_t>(i)] != 0;
          hit.score = hit.valid ? prob[i].item<double>() : 0.0;
          if (best && hit.valid) {
            hit.snr = best->score[i].item<double>();
            hit.drift = best->drift[i].item<double>() * h0.foff * 1e6 / step_s;
            hit.line_mhz = h0.frequency(static_cast<double>(hit.first + best->channel[i].item<std::int64_t>()));
          }
        }
        bar.advance(s.count);
      }
    }
    ScanResult r;
    r.windows = n;
    r.models = nets.size();
    if (so.tta) with_predict_stage(pipeline, [&](const auto& stage) { r.rounds = stage.rounds(); });
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    r.windows_per_s = static_cast<double>(n) / std::max(r.seconds, 1e-9);
    for (const auto& h : hits) r.skipped += h.valid ? 0 : 1;
    r.hits = hits;
    std::stable_sort(r.hits.begin(), r.hits.end(), [](const Hit& a, const Hit& b) { return a.score > b.score; });
    r.dir = out;

    // hits.csv
    const auto& h0 = cad.header();
    auto freq_lo = [&](const Hit& h) { return std::min(h0.frequency(static_cast<double>(h.first)), h0.frequency(static_cast<double>(h.first + h.width - 1))); };
    auto freq_hi = [&](const Hit& h) { return std::max(h0.frequency(static_cast<double>(h.first)), h0.frequency(static_cast<double>(h.first + h.width - 1))); };
    r.csv = out / "hits.csv";
    write_text_atomically(r.csv, [&](std::ostream& o) {
      o << "rank,window,channel_start,channel_end,freq_low_mhz,freq_high_mhz,freq_centre_mhz,score,dedoppler_drift_hz_s,dedoppler_snr,dedoppler_freq_mhz\n";
      char buf[64];
      for (std::size_t k = 0; k < r.hits.size(); ++k) {
        const Hit& h = r.hits[k];
        o << k + 1 << ',' << h.window << ',' << h.first << ',' << h.first + h.width << ',' << detail::mhz(freq_lo(h)) << ','
          << detail::mhz(freq_hi(h)) << ',' << detail::mhz(h0.frequency(static_cast<double>(h.first) + 0.5 * static_cast<double>(h.width - 1)));
        std::snprintf(buf, sizeof buf, ",%.6g", h.score);
        o << buf;
        if (std::isnan(h.snr)) o << ",,,";
        else {
          std::snprintf(buf, sizeof buf, ",%.6g,%.4g,", h.drift, h.snr);
          o << buf << detail::mhz(h.line_mhz);
        }
        o << '\n';
      }
    });

    // waterfalls, scan.html, scan.json
    const auto top = std::min<std::size_t>(static_cast<std::size_t>(so.top), r.hits.size());
    fs::create_directories(out / "waterfalls");
    std::vector<std::string> images;
    for (std::size_t k = 0; k < top; ++k) {
      const auto bytes = observe::waterfall_png(cad, r.hits[k].first, r.hits[k].width);
      char name[32];
      std::snprintf(name, sizeof name, "hit_%03zu.png", k + 1);
      write_text_atomically(out / "waterfalls" / name, [&](std::ostream& o) { o.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size())); });
      images.push_back(observe::base64(bytes));
    }
    config::json summary = {{"windows", n}, {"skipped_windows", r.skipped}, {"channels", cad.nchans()}, {"overlap", so.overlap},
                            {"models", nets.size()}, {"tta", so.tta}, {"device", device.str()}, {"reading_threads", threads},
                            {"seconds", r.seconds}, {"windows_per_s", r.windows_per_s}, {"run", run_dir.string()}};
    config::json jfiles = config::json::array();
    for (std::size_t p = 0; p < 6; ++p) {
      const auto& h = cad.header(p);
      jfiles.push_back({{"position", p + 1}, {"on", p % 2 == 0}, {"file", h.file.string()}, {"source_name", h.source_name},
                        {"nsamples", h.nsamples}, {"tsamp", h.tsamp}, {"nbits", h.nbits}});
    }
    summary["files"] = jfiles;
    config::json jtop = config::json::array();
    for (std::size_t k = 0; k < top; ++k) {
      const Hit& h = r.hits[k];
      config::json e = {{"rank", k + 1}, {"window", h.window}, {"channel_start", h.first}, {"channel_end", h.first + h.width}, {"score", h.score}};
      if (!std::isnan(h.snr)) { e["dedoppler_drift_hz_s"] = h.drift; e["dedoppler_snr"] = h.snr; e["dedoppler_freq_mhz"] = h.line_mhz; }
      jtop.push_back(e);
    }
    summary["top"] = jtop;
    write_text_atomically(out / "scan.json", [&](std::ostream& o) { o << summary.dump(2) << '\n'; });

    std::ostringstream html;
    const std::string title = "cadence scan: " + (h0.source_name.empty() ? std::string("cadence") : h0.source_name);
    html << "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>" << report::escape(title) << "</title><style>"
         << "body{font-family:sans-serif;margin:24px;color:#222}table{border-collapse:collapse;margin:8px 0 20px}"
         << "td,th{border:1px solid #ccc;padding:4px 8px;font-size:13px;text-align:left;vertical-align:top}th{background:#f4f4f4}"
         << "img{image-rendering:pixelated;display:block}.on{font-weight:bold}</style></head><body><h1>" << report::escape(title) << "</h1>";
    html << "<h2>Observation</h2><table><tr><th>position</th><th></th><th>file</th><th>source</th><th>time samples</th><th>tsamp (s)</th><th>nbits</th></tr>";
    for (std::size_t p = 0; p < 6; ++p) {
      const auto& h = cad.header(p);
      html << "<tr><td>" << p + 1 << "</td><td" << (p % 2 == 0 ? " class=\"on\">ON" : ">OFF") << "</td><td>" << report::escape(h.file.string())
           << "</td><td>" << report::escape(h.source_name) << "</td><td>" << h.nsamples << "</td><td>" << h.tsamp << "</td><td>" << h.nbits << "</td></tr>";
    }
    char line[256];
    std::snprintf(line, sizeof line, "%lld channels, %.6f to %.6f MHz; %lld windows of %lld channels (overlap %d)%s; %zu model(s)%s on %s; %.1f s, %.1f windows/s",
                  static_cast<long long>(cad.nchans()), h0.frequency(0), h0.frequency(static_cast<double>(cad.nchans() - 1)), static_cast<long long>(n),
                  static_cast<long long>(shape.freq), so.overlap, r.skipped > 0 ? (", " + std::to_string(r.skipped) + " skipped (NaN/Inf or no power)").c_str() : "",
                  nets.size(), so.tta ? " x TTA" : "", device.str().c_str(), r.seconds, r.windows_per_s);
    html << "</table><p>" << report::escape(line) << "</p>";
    // the score along the band: each point the best window of a bucket, at most ~1000 of them
    report::Series along{"score", {}, false};
    const std::size_t per = std::max<std::size_t>(1, hits.size() / 1000);
    for (std::size_t i = 0; i < hits.size(); i += per) {
      std::size_t arg = i;
      for (std::size_t k = i; k < std::min(hits.size(), i + per); ++k)
        if (hits[k].score > hits[arg].score) arg = k;
      along.points.emplace_back(h0.frequency(static_cast<double>(hits[arg].first) + 0.5 * static_cast<double>(shape.freq)), hits[arg].score);
    }
    std::sort(along.points.begin(), along.points.end());
    html << report::line_chart("score along the band", "frequency (MHz)", {along});
    html << "<h2>Top " << top << " hits</h2><table><tr><th>rank</th><th>channels</th><th>MHz</th><th>score</th><th>de-Doppler drift (Hz/s)</th>"
         << "<th>de-Doppler SNR</th><th>waterfall (ON, OFF, ON, OFF, ON, OFF; power in dB)</th></tr>";
    for (std::size_t k = 0; k < top; ++k) {
      const Hit& h = r.hits[k];
      char buf[200];
      std::snprintf(buf, sizeof buf, "<tr><td>%zu</td><td>%lld&ndash;%lld</td><td>%.6f&ndash;%.6f</td><td>%.4f</td>", k + 1,
                    static_cast<long long>(h.first), static_cast<long long>(h.first + h.width - 1), freq_lo(h), freq_hi(h), h.score);
      html << buf;
      if (std::isnan(h.snr)) html << "<td>&ndash;</td><td>&ndash;</td>";
      else {
        std::snprintf(buf, sizeof buf, "<td>%.4g</td><td>%.3g</td>", h.drift, h.snr);
        html << buf;
      }
      html << "<td><img alt=\"hit " << k + 1 << "\" src=\"data:image/png;base64," << images[k] << "\"></td></tr>";
    }
    html << "</table></body></html>\n";
    r.html = out / "scan.html";
    write_text_atomically(r.html, [&](std::ostream& o) { o << html.str(); });
    return r;
  }
}

}  // namespace recipes
}  // namespace cadence
