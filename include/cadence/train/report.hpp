#pragma once
// report.html: one self-contained page (inline SVG, no scripts, no external files) with what a person
// would rather see than read: loss and AUC per epoch for each fold, the learning rate, throughput, and
// the ROC curve of the out-of-fold predictions.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

#include "cadence/config/options.hpp"
#include "cadence/core/atomic_file.hpp"

namespace cadence::report {

struct Series {
  std::string name;
  std::vector<std::pair<double, double>> points;
  bool dashed = false;
};

inline std::string escape(const std::string& s) {
  std::string o;
  for (char c : s) o += c == '<' ? "&lt;" : c == '>' ? "&gt;" : c == '&' ? "&amp;" : std::string(1, c);
  return o;
}

/// Significant digits that tell an axis' ticks apart: 3, or more when the span is small beside the
/// values (frequencies in MHz over a few MHz of band).
inline int tick_digits(double lo, double hi) {
  const double span = std::abs(hi - lo), mag = std::max(std::abs(lo), std::abs(hi));
  if (!(span > 0) || !(mag > 0) || !std::isfinite(span) || !std::isfinite(mag)) return 3;
  return std::clamp(static_cast<int>(std::ceil(std::log10(mag / span))) + 2, 3, 12);
}

/// A line chart as inline SVG (class "chart", one <polyline> per series).
inline std::string line_chart(const std::string& title, const std::string& xlabel, const std::vector<Series>& series,
                              bool diagonal = false, bool integer_x = false) {
  static const char* colours[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
                                  "#9467bd", "#8c564b", "#e377c2", "#17becf"};
  double x0 = 1e300, x1 = -1e300, y0 = 1e300, y1 = -1e300;
  for (const auto& s : series)
    for (auto [x, y] : s.points) {
      x0 = std::min(x0, x);
      x1 = std::max(x1, x);
      y0 = std::min(y0, y);
      y1 = std::max(y1, y);
    }
  if (x0 > x1) {
    x0 = 0;
    x1 = 1;
    y0 = 0;
    y1 = 1;
  }
  if (x1 == x0) x1 = x0 + 1;
  if (y1 == y0) {
    y0 -= 0.5;
    y1 += 0.5;
  }
  const double W = 420, H = 260, L = 50, R = 10, T = 24, B = 36;
  auto px = [&](double x) { return L + (x - x0) / (x1 - x0) * (W - L - R); };
  auto py = [&](double y) { return H - B - (y - y0) / (y1 - y0) * (H - T - B); };
  std::ostringstream o;
  char buf[96];
  o << "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W << "\" height=\"" << H
    << "\" viewBox=\"0 0 " << W << ' ' << H << "\">";
  o << "<text x=\"" << W / 2 << "\" y=\"16\" text-anchor=\"middle\" font-size=\"13\">" << escape(title) << "</text>";
  o << "<rect x=\"" << L << "\" y=\"" << T << "\" width=\"" << W - L - R << "\" height=\"" << H - T - B
    << "\" fill=\"none\" stroke=\"#999\"/>";
  for (int k = 0; k <= 4; ++k) {
    const double yv = y0 + (y1 - y0) * k / 4.0;
    std::snprintf(buf, sizeof buf, "%.*g", tick_digits(y0, y1), yv);
    o << "<text x=\"" << L - 4 << "\" y=\"" << py(yv) + 4 << "\" text-anchor=\"end\" font-size=\"10\">" << buf
      << "</text>";
  }
  std::vector<double> xticks;  // epochs are whole numbers: integer ticks, at most about 10
  if (integer_x) {
    const double step = std::max(1.0, std::ceil((std::floor(x1) - std::ceil(x0)) / 10.0));
    for (double xv = std::ceil(x0); xv <= x1 + 1e-9; xv += step) xticks.push_back(xv);
  } else {
    for (int k = 0; k <= 4; ++k) xticks.push_back(x0 + (x1 - x0) * k / 4.0);
  }
  for (const double xv : xticks) {
    if (integer_x)
      std::snprintf(buf, sizeof buf, "%.0f", xv);
    else
      std::snprintf(buf, sizeof buf, "%.*g", tick_digits(x0, x1), xv);
    o << "<text class=\"xtick\" x=\"" << px(xv) << "\" y=\"" << H - B + 14
      << "\" text-anchor=\"middle\" font-size=\"10\">" << buf << "</text>";
  }
  o << "<text x=\"" << (L + W - R) / 2 << "\" y=\"" << H - 6 << "\" text-anchor=\"middle\" font-size=\"11\">"
    << escape(xlabel) << "</text>";
  if (diagonal)
    o << "<line x1=\"" << px(0) << "\" y1=\"" << py(0) << "\" x2=\"" << px(1) << "\" y2=\"" << py(1)
      << "\" stroke=\"#bbb\" stroke-dasharray=\"4\"/>";
  for (std::size_t i = 0; i < series.size(); ++i) {
    const char* c = colours[i % 8];
    o << "<polyline fill=\"none\" stroke=\"" << c << "\" stroke-width=\"2\""
      << (series[i].dashed ? " stroke-dasharray=\"5 3\"" : "") << " points=\"";
    for (auto [x, y] : series[i].points) {
      std::snprintf(buf, sizeof buf, "%.1f,%.1f ", px(x), py(y));
      o << buf;
    }
    o << "\"><title>" << escape(series[i].name) << "</title></polyline>";
    o << "<text x=\"" << L + 6 << "\" y=\"" << T + 14 + 12 * static_cast<double>(i) << "\" font-size=\"10\" fill=\""
      << c << "\">" << escape(series[i].name) << "</text>";
  }
  o << "</svg>";
  return o.str();
}

/// ROC curve points (FPR, TPR) of scores against 0/1 truth.
inline std::vector<std::pair<double, double>> roc_points(const std::vector<float>& truth,
                                                         const std::vector<double>& score) {
  std::vector<std::size_t> idx(truth.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::sort(idx.begin(), idx.end(), [&](auto a, auto b) { return score[a] > score[b]; });
  double P = 0, N = 0;
  for (float t : truth) (t >= 0.5f ? P : N) += 1;
  std::vector<std::pair<double, double>> pts{{0, 0}};
  double tp = 0, fp = 0;
  for (std::size_t k = 0; k < idx.size(); ++k) {
    (truth[idx[k]] >= 0.5f ? tp : fp) += 1;
    if (k + 1 == idx.size() || score[idx[k + 1]] != score[idx[k]])
      pts.emplace_back(N > 0 ? fp / N : 0, P > 0 ? tp / P : 0);
  }
  return pts;
}

/// A value as a person reads it: numbers to 4 significant decimals, lists of numbers likewise.
inline std::string format_value(const config::json& v) {
  char buf[48];
  if (v.is_number_float()) {
    std::snprintf(buf, sizeof buf, "%.4f", v.get<double>());
    return buf;
  }
  if (v.is_array()) {
    std::string o;
    for (const auto& e : v) o += (o.empty() ? "" : ", ") + format_value(e);
    return o;
  }
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

/// One row per AUC bin: positives whose value lies in [lo, hi) against every negative.
struct BinAuc {
  double lo = 0.0, hi = 0.0;
  std::size_t positives = 0;
  double auc = -1.0;  // -1: no positive in the bin
};

/// The SNR bins of the reports' "AUC by SNR" tables (the fine-tune report's out-of-fold table and
/// predict's test summary share them, so that the two read side by side).
inline const std::vector<double>& snr_bin_edges() {
  static const std::vector<double> edges{0, 10, 15, 20, 25, 30, 40, 60, 1e9};
  return edges;
}

/// The bins of predict's "AUC by energy SNR" (SNR times the signal's ON-panel energy, a truth file's
/// `energy`): finer at the faint end, where a pulsed signal's energy puts it below the SNR it was drawn at.
inline const std::vector<double>& energy_snr_bin_edges() {
  static const std::vector<double> edges{0, 3, 5, 7.5, 10, 15, 20, 30, 1e9};
  return edges;
}

/// How many of the sorted negative scores `x` beats, ties counting half (one positive's share of the AUC).
inline double wins_over(const std::vector<double>& sorted_negatives, double x) {
  const auto below = std::lower_bound(sorted_negatives.begin(), sorted_negatives.end(), x) - sorted_negatives.begin();
  const auto upto = std::upper_bound(sorted_negatives.begin(), sorted_negatives.end(), x) - sorted_negatives.begin();
  return static_cast<double>(below) + 0.5 * static_cast<double>(upto - below);
}

/// ROC AUC by bins of a per-sample value (a positive's SNR, say; NaN where unknown): each bin's positives
/// ranked against all negatives, so that a bin's number says how well signals of that strength are found.
inline std::vector<BinAuc> auc_by_bins(const std::vector<float>& truth, const std::vector<double>& score,
                                       const std::vector<double>& value, const std::vector<double>& edges) {
  std::vector<BinAuc> out;
  std::vector<double> neg;
  for (std::size_t i = 0; i < truth.size(); ++i)
    if (truth[i] < 0.5f) neg.push_back(score[i]);
  std::sort(neg.begin(), neg.end());
  const auto negatives = static_cast<double>(neg.size());
  for (std::size_t b = 0; b + 1 < edges.size(); ++b) {
    BinAuc r{edges[b], edges[b + 1], 0, -1.0};
    double wins = 0.0;
    for (std::size_t i = 0; i < truth.size(); ++i) {
      if (truth[i] < 0.5f || !(value[i] >= r.lo && value[i] < r.hi)) continue;
      ++r.positives;
      wins += wins_over(neg, score[i]);
    }
    if (r.positives > 0 && negatives > 0) r.auc = wins / (static_cast<double>(r.positives) * negatives);
    out.push_back(r);
  }
  return out;
}

/// One row of the AUC by family: `group` is path, intensity, profile, skip or interference.
struct FamilyAuc {
  std::string group, family;
  std::size_t positives = 0, negatives = 0;
  double auc = -1.0;
};

/// ROC AUC by a synthetic set's families (cadence-synth's truth columns `signal` =
/// path+intensity+profile[+skip<k>] for a positive, `interference` = the kind for any sample, empty
/// when none). A signal family: its positives against every negative (is this shape found?). An
/// interference kind, and `none`: every positive against the negatives that carry it (is a negative
/// with this interference ranked below the signals?).
inline std::vector<FamilyAuc> auc_by_family(const std::vector<float>& truth, const std::vector<double>& score,
                                            const std::vector<std::string>& signal,
                                            const std::vector<std::string>& interference) {
  static const char* const groups[] = {"path", "intensity", "profile"};
  std::map<std::pair<std::string, std::string>, std::vector<std::size_t>> members;  // (group, family) -> samples
  for (std::size_t i = 0; i < truth.size(); ++i) {
    if (truth[i] >= 0.5f) {
      if (signal[i].empty()) continue;
      std::size_t at = 0;
      for (int g = 0; at <= signal[i].size(); ++g) {
        const auto plus = signal[i].find('+', at);
        const auto part = signal[i].substr(at, plus == std::string::npos ? std::string::npos : plus - at);
        members[{g < 3 ? groups[g] : "skip", g < 3 ? part : "skips an ON panel"}].push_back(i);
        if (plus == std::string::npos) break;
        at = plus + 1;
      }
    } else {
      members[{"interference", interference[i].empty() ? "none" : interference[i]}].push_back(i);
    }
  }
  std::vector<FamilyAuc> out;
  for (const auto& [key, idx] : members) {
    const bool negatives_vary = key.first == "interference";
    std::vector<double> pos, neg;
    for (std::size_t i : idx) (negatives_vary ? neg : pos).push_back(score[i]);
    for (std::size_t i = 0; i < truth.size(); ++i)
      if ((truth[i] >= 0.5f) == negatives_vary) (negatives_vary ? pos : neg).push_back(score[i]);
    std::sort(neg.begin(), neg.end());
    double wins = 0.0;
    for (double x : pos) wins += wins_over(neg, x);
    FamilyAuc r{key.first, key.second, pos.size(), neg.size(), -1.0};
    if (!pos.empty() && !neg.empty())
      r.auc = wins / (static_cast<double>(pos.size()) * static_cast<double>(neg.size()));
    out.push_back(std::move(r));
  }
  return out;
}

/// What a report shows beyond the epoch histories.
struct Extras {
  config::json settings;         // the run's key settings (name -> value)
  std::vector<double> oof_snr;   // per OOF sample: the injected SNR of a positive (NaN: unknown)
  config::json prediction;       // the test prediction's summary (name -> value), when there is one
  std::vector<double> baseline;  // per OOF sample: the de-Doppler baseline's probability (finetune.baseline)
};

/// Writes report.html from the epoch histories (objects with tag, epoch and valid_auc; train_loss,
/// valid_loss, lr, samples_per_s, data_wait when the run trained) and, when given, the out-of-fold
/// predictions and the extras.
inline void write(const std::filesystem::path& path, const std::string& title, const config::json& history,
                  const std::vector<float>& oof_truth, const std::vector<double>& oof_pred, const config::json& summary,
                  const Extras& extras = {}) {
  std::map<std::string, Series> loss, auc, lr, speed;
  struct Row {
    int epochs = 0, best_epoch = 0;
    double best_auc = -1.0, train_loss = NAN, valid_loss = NAN, rate = NAN, wait = NAN;
  };
  std::map<std::string, Row> rows;
  auto number = [](const config::json& h, const char* key) {
    return h.contains(key) && h[key].is_number() ? h[key].get<double>() : NAN;
  };
  auto add = [](std::map<std::string, Series>& m, const std::string& key, const std::string& name, double e, double y,
                bool dashed = false) {
    if (std::isnan(y)) return;
    auto& s = m[key];
    s.name = name;
    s.dashed = dashed;
    s.points.emplace_back(e, y);
  };
  for (const auto& h : history) {
    const std::string tag = h.value("tag", "run");
    const double e = number(h, "epoch");
    add(loss, tag + " train", tag + " train", e, number(h, "train_loss"));
    add(loss, tag + " valid", tag + " valid", e, number(h, "valid_loss"), true);
    add(auc, tag, tag, e, number(h, "valid_auc"));
    add(lr, tag, tag, e, number(h, "lr"));
    add(speed, tag, tag, e, number(h, "samples_per_s"));
    auto& r = rows[tag];
    r.epochs = std::max(r.epochs, static_cast<int>(e));
    if (number(h, "valid_auc") > r.best_auc) {
      r.best_auc = number(h, "valid_auc");
      r.best_epoch = static_cast<int>(e);
    }
    r.train_loss = number(h, "train_loss");
    r.valid_loss = number(h, "valid_loss");
    r.rate = number(h, "samples_per_s");
    r.wait = number(h, "data_wait");
  }
  auto values = [](const std::map<std::string, Series>& m) {
    std::vector<Series> v;
    for (const auto& [_, s] : m) v.push_back(s);
    return v;
  };
  auto cell = [](double v, const char* fmt = "%.4f") {
    if (std::isnan(v)) return std::string("&ndash;");
    char buf[32];
    std::snprintf(buf, sizeof buf, fmt, v);
    return std::string(buf);
  };
  auto table = [&](std::ostringstream& html, const char* id, const config::json& kv) {
    if (!kv.is_object() || kv.empty()) return;
    html << "<table id=\"" << id << "\">";
    for (const auto& [k, v] : kv.items())
      html << "<tr><th>" << escape(k) << "</th><td>" << escape(format_value(v)) << "</td></tr>";
    html << "</table>";
  };
  std::ostringstream html;
  html << "<!doctype html><html><head><meta charset=\"utf-8\"><title>" << escape(title) << "</title><style>"
       << "body{font-family:sans-serif;margin:24px;color:#222}.grid{display:flex;flex-wrap:wrap;gap:16px}"
       << ".tables{display:flex;flex-wrap:wrap;gap:24px;align-items:flex-start}h2{font-size:15px;margin:18px 0 6px}"
       << "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px "
          "8px;text-align:right}</style></head><body>"
       << "<h1>" << escape(title) << "</h1><div class=\"tables\"><div><h2>Result</h2>";
  table(html, "summary", summary);
  html << "</div>";
  if (!extras.settings.is_null() && !extras.settings.empty()) {
    html << "<div><h2>Settings</h2>";
    table(html, "settings", extras.settings);
    html << "</div>";
  }
  if (!extras.prediction.is_null() && !extras.prediction.empty()) {
    html << "<div><h2>Test prediction</h2>";
    table(html, "prediction", extras.prediction);
    html << "</div>";
  }
  html << "</div>";
  if (!rows.empty()) {
    html << "<h2>Per fold</h2><table id=\"folds\"><tr><th>run</th><th>epochs</th><th>best epoch</th><th>best valid "
            "AUC</th>"
         << "<th>last train loss</th><th>last valid loss</th><th>samples/s</th><th>data wait</th></tr>";
    for (const auto& [tag, r] : rows)
      html << "<tr><th>" << escape(tag) << "</th><td>" << r.epochs << "</td><td>" << r.best_epoch << "</td><td>"
           << cell(r.best_auc) << "</td><td>" << cell(r.train_loss) << "</td><td>" << cell(r.valid_loss) << "</td><td>"
           << cell(r.rate, "%.1f") << "</td><td>" << cell(std::isnan(r.wait) ? NAN : 100.0 * r.wait, "%.1f%%")
           << "</td></tr>";
    html << "</table>";
  }
  std::vector<BinAuc> bins;
  if (!extras.oof_snr.empty() && extras.oof_snr.size() == oof_truth.size()) {
    const auto& edges = snr_bin_edges();
    bins = auc_by_bins(oof_truth, oof_pred, extras.oof_snr, edges);
    const bool with_baseline = extras.baseline.size() == oof_truth.size();
    const auto base =
        with_baseline ? auc_by_bins(oof_truth, extras.baseline, extras.oof_snr, edges) : std::vector<BinAuc>{};
    html << "<h2>Out-of-fold AUC by the signal's SNR (each bin's positives against all negatives)</h2><table "
            "id=\"snr\"><tr><th>SNR</th>"
         << "<th>positives</th><th>ROC AUC</th>" << (with_baseline ? "<th>de-Doppler baseline</th>" : "") << "</tr>";
    for (std::size_t k = 0; k < bins.size(); ++k) {
      const auto& b = bins[k];
      if (b.positives == 0) continue;
      html << "<tr><th>" << cell(b.lo, "%.0f") << (b.hi > 1e8 ? "+" : "&ndash;" + cell(b.hi, "%.0f")) << "</th><td>"
           << b.positives << "</td><td>" << cell(b.auc) << "</td>"
           << (with_baseline ? "<td>" + cell(base[k].auc) + "</td>" : "") << "</tr>";
    }
    html << "</table>";
  }
  html << "<div class=\"grid\">"
       << line_chart("loss (solid: training, dashed: validation)", "epoch", values(loss), false, true)
       << line_chart("validation ROC AUC", "epoch", values(auc), false, true)
       << line_chart("learning rate (end of epoch)", "epoch", values(lr), false, true)
       << line_chart("throughput (samples/s)", "epoch", values(speed), false, true);
  if (!oof_truth.empty()) {
    std::vector<Series> roc{{"OOF", roc_points(oof_truth, oof_pred)}};
    if (extras.baseline.size() == oof_truth.size())
      roc.push_back({"de-Doppler baseline", roc_points(oof_truth, extras.baseline), true});
    html << line_chart("ROC of the out-of-fold predictions", "false positive rate", roc, true);
  }
  if (!bins.empty()) {
    Series s{"OOF", {}};
    for (const auto& b : bins)
      if (b.positives > 0) s.points.emplace_back(b.hi > 1e8 ? b.lo + 10 : 0.5 * (b.lo + b.hi), b.auc);
    html << line_chart("out-of-fold ROC AUC by SNR", "SNR (bin centre)", {s});
  }
  html << "</div></body></html>\n";
  write_text_atomically(path, [&](std::ostream& o) { o << html.str(); });
}

}  // namespace cadence::report
