#pragma once
// The recipes' configuration sections: "run", "train", "pretrain", "finetune", "predict". One struct for
// every job, so one JSON file serves them all (the stages' sections sit beside these).
#include <array>
#include <filesystem>
#include <string_view>
#include <utility>
#include <vector>

#include "cadence/config/options.hpp"
#include "cadence/nn/inference.hpp"
#include "cadence/observe/options.hpp"
#include "cadence/train/trainer.hpp"

namespace cadence {

enum class FinetuneInit { pretrained, weights, scratch };
inline constexpr std::array<std::pair<FinetuneInit, std::string_view>, 3> enum_names(FinetuneInit) {
  return {{{FinetuneInit::pretrained, "pretrained"},
           {FinetuneInit::weights, "weights"},
           {FinetuneInit::scratch, "scratch"}}};
}
enum class PretrainSplit { old, train };
inline constexpr std::array<std::pair<PretrainSplit, std::string_view>, 2> enum_names(PretrainSplit) {
  return {{{PretrainSplit::old, "old"}, {PretrainSplit::train, "train"}}};
}

/// The classical search finetune.baseline scores beside the network: the line search at its defaults
/// (detect/dedoppler.hpp, no background stage), or the track search as track.json ships it.
enum class BaselineSearch { line, track };
inline constexpr std::array<std::pair<BaselineSearch, std::string_view>, 2> enum_names(BaselineSearch) {
  return {{{BaselineSearch::line, "line"}, {BaselineSearch::track, "track"}}};
}

struct PretrainOptions {
  PretrainSplit split = PretrainSplit::old;  // old_leaky_data (the seed's choice) or train
  int epochs = 0;                            // 0: train.epochs
  template <class V>
  void fields(V& v) {
    v("split", split);
    v("epochs", epochs, config::at_least(0));
  }
};

struct FinetuneOptions {
  FinetuneInit init =
      FinetuneInit::pretrained;  // pretrained: <run.dir>/pretrain/model.pt; weights: model.weights; scratch
  std::vector<int> only;         // train only these folds (empty: all)
  bool baseline = false;         // also score the de-Doppler baseline on the same cadences, for the report
  BaselineSearch baseline_search = BaselineSearch::line;  // which search the baseline is
  // pseudo-labelling (the 3rd place's step): each fold first trains a teacher, whose predictions on the
  // test cadences label those it is sure of (P >= pseudo_high: 1, P <= pseudo_low: 0; pseudo_soft: P
  // itself), and the fold then trains on its own fitting cadences and those; validation stays the fold's
  bool pseudo = false;
  double pseudo_high = 0.9;
  double pseudo_low = 0.05;
  bool pseudo_soft = false;
  template <class V>
  void fields(V& v) {
    v("init", init);
    v("only", only);
    v("baseline", baseline);
    v("baseline_search", baseline_search, [this](BaselineSearch value, const std::string& path) {
      if (!baseline && value != BaselineSearch::line)
        fail(path, ": only \"baseline\": true reads it (no baseline is scored)");
    });
    v("pseudo", pseudo);
    v("pseudo_high", pseudo_high, config::in_range(0.0, 1.0));
    v("pseudo_low", pseudo_low, config::in_range(0.0, 1.0));
    v("pseudo_soft", pseudo_soft);
  }
};

struct BlendMember {
  std::filesystem::path submission;  // another run's submission.csv
  double weight = 1.0;
  template <class V>
  void fields(V& v) {
    v("submission", submission, config::NonEmpty{});
    v("weight", weight, config::at_least(0.0));
  }
};

struct PredictOptions {
  double weight = 1.0;             // this run's weight in the blend
  std::vector<BlendMember> blend;  // other runs to average with (same test ids)
  bool fold_batchnorm = true;      // BatchNorm folded into the convolutions (nn/inference.hpp)
  bool channels_last = true;       // NHWC weights and inputs
  Amp amp = Amp::off;              // autocast for the forward passes: "fp16" (CUDA) or "bf16", as the seed predicted
  template <class V>
  void fields(V& v) {
    v("weight", weight, config::at_least(0.0));
    v("blend", blend);
    v("fold_batchnorm", fold_batchnorm);
    v("channels_last", channels_last);
    v("amp", amp);
  }
  InferenceOptions inference() const { return {fold_batchnorm, channels_last}; }
};

struct CompetitionConfig {
  RunOptions run;
  TrainOptions train;
  PretrainOptions pretrain;
  FinetuneOptions finetune;
  PredictOptions predict;
  ScanOptions scan;
  template <class V>
  void fields(V& v) {
    v("run", run);
    v("train", train);
    v("pretrain", pretrain);
    v("finetune", finetune);
    v("predict", predict);
    v("scan", scan);
  }
  /// Checks across sections, before any work.
  void validate() const {
    (void)run.torch_device();  // a malformed device string, before anything is written
    if (train.amp == Amp::fp16 && !run.torch_device().is_cuda())
      fail("/train/amp: \"fp16\" needs a CUDA device (run.device is \"", run.device, "\"); use \"bf16\" on a CPU");
    check_cuda_graph_options(train, run.torch_device());
    double blend_weights = predict.weight;
    for (const auto& m : predict.blend) blend_weights += m.weight;
    if (!(blend_weights > 0))
      fail(
          "/predict/weight: the blend weights (this run's and predict.blend's) sum to 0; give this run a weight above "
          "0");
    if (finetune.pseudo && !(finetune.pseudo_low < finetune.pseudo_high))
      fail("/finetune/pseudo_low: ", finetune.pseudo_low, " is not below finetune.pseudo_high (", finetune.pseudo_high,
           "); a test cadence would be both a positive and a negative");
    if (predict.amp == Amp::fp16 && !run.torch_device().is_cuda())
      fail("/predict/amp: \"fp16\" needs a CUDA device (run.device is \"", run.device, "\"); use \"bf16\" on a CPU");
  }
};

}  // namespace cadence
