#pragma once
// report.html: one self-contained page (inline SVG, no scripts, no external files) with what a person
// would rather see than read: loss and AUC per epoch for each fold, the learning rate, throughput, and
// the ROC curve of the out-of-fold predictions.
#include <algorithm>
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
};

inline std::string escape(const std::string& s) {
  std::string o;
  for (char c : s) o += c == '<' ? "&lt;" : c == '>' ? "&gt;" : c == '&' ? "&amp;" : std::string(1, c);
  return o;
}

/// A line chart as inline SVG (class "chart", one <polyline> per series).
inline std::string line_chart(const std::string& title, const std::string& xlabel, const std::vector<Series>& series,
                              bool diagonal = false) {
  static const char* colours[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"};
  double x0 = 1e300, x1 = -1e300, y0 = 1e300, y1 = -1e300;
  for (const auto& s : series)
    for (auto [x, y] : s.points) { x0 = std::min(x0, x); x1 = std::max(x1, x); y0 = std::min(y0, y); y1 = std::max(y1, y); }
  if (x0 > x1) { x0 = 0; x1 = 1; y0 = 0; y1 = 1; }
  if (x1 == x0) x1 = x0 + 1;
  if (y1 == y0) { y0 -= 0.5; y1 += 0.5; }
  const double W = 420, H = 260, L = 50, R = 10, T = 24, B = 36;
  auto px = [&](double x) { return L + (x - x0) / (x1 - x0) * (W - L - R); };
  auto py = [&](double y) { return H - B - (y - y0) / (y1 - y0) * (H - T - B); };
  std::ostringstream o;
  char buf[96];
  o << "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W << "\" height=\"" << H << "\" viewBox=\"0 0 " << W << ' ' << H << "\">";
  o << "<text x=\"" << W / 2 << "\" y=\"16\" text-anchor=\"middle\" font-size=\"13\">" << escape(title) << "</text>";
  o << "<rect x=\"" << L << "\" y=\"" << T << "\" width=\"" << W - L - R << "\" height=\"" << H - T - B << "\" fill=\"none\" stroke=\"#999\"/>";
  for (int k = 0; k <= 4; ++k) {
    const double yv = y0 + (y1 - y0) * k / 4.0, xv = x0 + (x1 - x0) * k / 4.0;
    std::snprintf(buf, sizeof buf, "%.3g", yv);
    o << "<text x=\"" << L - 4 << "\" y=\"" << py(yv) + 4 << "\" text-anchor=\"end\" font-size=\"10\">" << buf << "</text>";
    std::snprintf(buf, sizeof buf, "%.3g", xv);
    o << "<text x=\"" << px(xv) << "\" y=\"" << H - B + 14 << "\" text-anchor=\"middle\" font-size=\"10\">" << buf << "</text>";
  }
  o << "<text x=\"" << (L + W - R) / 2 << "\" y=\"" << H - 6 << "\" text-anchor=\"middle\" font-size=\"11\">" << escape(xlabel) << "</text>";
  if (diagonal) o << "<line x1=\"" << px(0) << "\" y1=\"" << py(0) << "\" x2=\"" << px(1) << "\" y2=\"" << py(1) << "\" stroke=\"#bbb\" stroke-dasharray=\"4\"/>";
  for (std::size_t i = 0; i < series.size(); ++i) {
    const char* c = colours[i % 8];
    o << "<polyline fill=\"none\" stroke=\"" << c << "\" stroke-width=\"2\" points=\"";
    for (auto [x, y] : series[i].points) {
      std::snprintf(buf, sizeof buf, "%.1f,%.1f ", px(x), py(y));
      o << buf;
    }
    o << "\"><title>" << escape(series[i].name) << "</title></polyline>";
    o << "<text x=\"" << L + 6 << "\" y=\"" << T + 14 + 12 * static_cast<double>(i) << "\" font-size=\"10\" fill=\"" << c << "\">" << escape(series[i].name) << "</text>";
  }
  o << "</svg>";
  return o.str();
}

/// ROC curve points (FPR, TPR) of scores against 0/1 truth.
inline std::vector<std::pair<double, double>> roc_points(const std::vector<float>& truth, const std::vector<double>& score) {
  std::vector<std::size_t> idx(truth.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::sort(idx.begin(), idx.end(), [&](auto a, auto b) { return score[a] > score[b]; });
  double P = 0, N = 0;
  for (float t : truth) (t >= 0.5f ? P : N) += 1;
  std::vector<std::pair<double, double>> pts{{0, 0}};
  double tp = 0, fp = 0;
  for (std::size_t k = 0; k < idx.size(); ++k) {
    (truth[idx[k]] >= 0.5f ? tp : fp) += 1;
    if (k + 1 == idx.size() || score[idx[k + 1]] != score[idx[k]]) pts.emplace_back(N > 0 ? fp / N : 0, P > 0 ? tp / P : 0);
  }
  return pts;
}

/// Writes report.html from the epoch histories (objects with tag, epoch, train_loss, valid_auc, lr,
/// samples_per_s) and, when given, the out-of-fold predictions.
inline void write(const std::filesystem::path& path, const std::string& title, const config::json& history,
                  const std::vector<float>& oof_truth, const std::vector<double>& oof_pred, const config::json& summary) {
  std::map<std::string, Series> loss, auc, lr, speed;
  for (const auto& h : history) {
    const std::string tag = h.value("tag", "run");
    const double e = h["epoch"].get<double>();
    loss[tag].name = auc[tag].name = lr[tag].name = speed[tag].name = tag;
    loss[tag].points.emplace_back(e, h["train_loss"].get<double>());
    auc[tag].points.emplace_back(e, h["valid_auc"].get<double>());
    lr[tag].points.emplace_back(e, h["lr"].get<double>());
    speed[tag].points.emplace_back(e, h["samples_per_s"].get<double>());
  }
  auto values = [](const std::map<std::string, Series>& m) {
    std::vector<Series> v;
    for (const auto& [_, s] : m) v.push_back(s);
    return v;
  };
  std::ostringstream html;
  html << "<!doctype html><html><head><meta charset=\"utf-8\"><title>" << escape(title) << "</title><style>"
       << "body{font-family:sans-serif;margin:24px;color:#222}.grid{display:flex;flex-wrap:wrap;gap:16px}"
       << "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}</style></head><body>"
       << "<h1>" << escape(title) << "</h1>";
  if (!summary.is_null()) {
    html << "<table id=\"summary\">";
    for (const auto& [k, v] : summary.items()) html << "<tr><th>" << escape(k) << "</th><td>" << escape(v.is_string() ? v.get<std::string>() : v.dump()) << "</td></tr>";
    html << "</table>";
  }
  html << "<div class=\"grid\">" << line_chart("training loss", "epoch", values(loss)) << line_chart("validation ROC AUC", "epoch", values(auc))
       << line_chart("learning rate (end of epoch)", "epoch", values(lr)) << line_chart("throughput (samples/s)", "epoch", values(speed));
  if (!oof_truth.empty()) html << line_chart("ROC of the out-of-fold predictions", "false positive rate", {{"OOF", roc_points(oof_truth, oof_pred)}}, true);
  html << "</div></body></html>\n";
  write_text_atomically(path, [&](std::ostream& o) { o << html.str(); });
}

}  // namespace cadence::report
