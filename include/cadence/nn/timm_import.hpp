#pragma once
// Loading timm weights, matched key for key, from either
//   - a `.safetensors` file (the format timm's hub weights ship in), or
//   - a torch.save'd plain dict: `torch.save(dict(model.state_dict()), path)` (samples/seti/export_timm.py).
//     LibTorch 1.13's unpickler cannot rebuild the OrderedDict that state_dict() returns, hence dict(...).
//
//   - a stem with 3 input channels adapts to in_chans as timm's adapt_input_conv does
//     (1 channel: the RGB weights summed; C channels: RGB repeated and scaled by 3/C);
//   - classifier.* with another class count is left freshly initialised (a new head);
//   - anything else missing, unexpected or mis-shaped is an error naming the key and the file.
#include <filesystem>
#include <fstream>
#include <map>
#include <utility>
#include <string>
#include <vector>

#include <torch/nn.h>
#include <torch/serialize.h>

#include <nlohmann/json.hpp>

#include "cadence/core/error.hpp"
#include "cadence/nn/safetensors.hpp"
#include "cadence/nn/state_dict.hpp"

namespace cadence {

struct ImportOptions {
  std::string stem_key = "conv_stem.weight";
  std::string head_prefix = "classifier.";
  std::string expect_model;  // the configured architecture; a file that records another one is refused
};

/// The key under which export_timm.py records the timm model name: safetensors `__metadata__`, or a
/// string entry of a torch.save'd dict.
inline constexpr const char* kTimmModelKey = "timm_model";

/// The architecture part of a timm model name: "tf_efficientnetv2_s.in21k" -> "tf_efficientnetv2_s".
inline std::string timm_architecture(const std::string& model) { return model.substr(0, model.find('.')); }

struct ImportReport {
  std::size_t loaded = 0;
  bool stem_adapted = false;
  std::vector<std::string> reinitialized;  // head keys left as initialised (class count differs)
};

/// timm's adapt_input_conv for a (O, 3, kh, kw) stem weight.
inline torch::Tensor adapt_input_conv(const torch::Tensor& w, std::int64_t in_chans) {
  if (w.size(1) != 3) fail("adapt_input_conv: the stem has ", w.size(1), " input channels; only 3 can be adapted");
  if (in_chans == 1) return w.sum(1, true);
  const auto repeat = (in_chans + 2) / 3;
  return w.repeat({1, repeat, 1, 1}).narrow(1, 0, in_chans) * (3.0 / static_cast<double>(in_chans));
}

/// The tensors of a .safetensors file (the container is parsed and checked in nn/safetensors.hpp).
inline std::map<std::string, torch::Tensor> read_safetensors(const std::filesystem::path& file,
                                                             const std::vector<char>& bytes,
                                                             std::string* recorded_model = nullptr) {
  const auto c = safetensors::parse(std::string_view(bytes.data(), bytes.size()), file.string());
  if (recorded_model) *recorded_model = c.recorded_model;
  std::map<std::string, torch::Tensor> out;
  for (const auto& e : c.entries) {
    const torch::Dtype t = e.dtype == "F32"    ? torch::kFloat32
                           : e.dtype == "F16"  ? torch::kFloat16
                           : e.dtype == "BF16" ? torch::kBFloat16
                           : e.dtype == "F64"  ? torch::kFloat64
                           : e.dtype == "I64"  ? torch::kInt64
                                               : torch::kUInt8;
    out.emplace(e.name, torch::from_blob(const_cast<char*>(bytes.data() + e.begin), e.shape, t).clone());
  }
  return out;
}

/// The tensors of a weights file (.safetensors, or a torch.save'd dict of str -> Tensor).
/// `recorded_model` (if given) receives the timm model name the file records, or stays empty.
inline std::map<std::string, torch::Tensor> read_state_dict(const std::filesystem::path& file,
                                                            std::string* recorded_model = nullptr) {
  std::ifstream in(file, std::ios::binary);
  if (!in) fail(file.string(), ": cannot open weights file");
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (file.extension() == ".safetensors") return read_safetensors(file, bytes, recorded_model);
  if (bytes.size() < 4 || bytes[0] != 'P' || bytes[1] != 'K')
    fail(file.string(), ": not a torch.save file (expected the zip format of PyTorch >= 1.6) nor .safetensors");
  c10::IValue v;
  try {
    v = torch::pickle_load(bytes);
  } catch (const std::exception& e) {
    std::string what = e.what();
    what = what.substr(0, what.find('\n'));
    if (what.find("Expected GenericDict but got None") !=
        std::string::npos)  // LibTorch 1.13's unpickler on an OrderedDict
      v = c10::IValue();
    else
      fail(file.string(), ": cannot read (truncated or corrupt?): ", what);
  }
  constexpr const char* convert =
      "; convert it with samples/seti/export_timm.py, or in Python: torch.save(dict(sd), path) or safetensors' "
      "save_file(sd, path)";
  if (v.isNone())  // what LibTorch 1.13 makes of an OrderedDict
    fail(file.string(), ": saved as an OrderedDict (torch.save(model.state_dict())), which LibTorch cannot read",
         convert);
  if (!v.isGenericDict())
    fail(file.string(), ": expected a state_dict (a dict of name -> tensor), got ", v.tagKind(), convert);
  std::map<std::string, torch::Tensor> out;
  for (const auto& kv : v.toGenericDict()) {
    if (kv.key().isString() && kv.key().toStringRef() == kTimmModelKey && kv.value().isString()) {
      if (recorded_model) *recorded_model = kv.value().toStringRef();
      continue;
    }
    if (!kv.key().isString() || !kv.value().isTensor())
      fail(file.string(), ": expected a state_dict (a dict of name -> tensor)", convert);
    out.emplace(kv.key().toStringRef(), kv.value().toTensor());
  }
  return out;
}

/// Loads `file` into `module`'s parameters and buffers.
inline ImportReport load_state_dict(torch::nn::Module& module, const std::filesystem::path& file,
                                    const ImportOptions& o = {}) {
  std::string recorded;
  auto sd = read_state_dict(file, &recorded);
  const std::string f = file.string();
  if (!o.expect_model.empty() && !recorded.empty() && timm_architecture(recorded) != o.expect_model)
    fail(f, ": holds `", recorded, "` weights (recorded by export_timm.py) but the model is `", o.expect_model,
         "`; set model.arch to \"", timm_architecture(recorded), "\" or export weights of `", o.expect_model, "`");
  std::map<std::string, torch::Tensor> targets;
  for (auto& [k, t] : state_dict_entries(module)) targets.emplace(k, t);

  auto list = [](const std::vector<std::string>& keys) {
    std::string s;
    for (std::size_t i = 0; i < keys.size() && i < 5; ++i) s += (i ? ", " : "") + keys[i];
    if (keys.size() > 5) s += " (+" + std::to_string(keys.size() - 5) + " more)";
    return s;
  };
  // Structure first (a different architecture), then shapes (a different size of the same one).
  std::vector<std::string> missing, unexpected;
  for (const auto& [k, _] : targets)
    if (sd.count(k) == 0) missing.push_back(k);
  for (const auto& [k, _] : sd)
    if (targets.count(k) == 0) unexpected.push_back(k);
  if (!missing.empty()) fail(f, ": missing keys: ", list(missing));
  if (!unexpected.empty()) fail(f, ": unexpected keys: ", list(unexpected));

  ImportReport report;
  torch::NoGradGuard no_grad;
  for (auto& [key, dst] : targets) {
    torch::Tensor src = sd.at(key);
    if (src.sizes() != dst.sizes()) {
      if (key == o.stem_key && src.dim() == 4 && dst.dim() == 4 && src.size(1) == 3 && src.size(0) == dst.size(0) &&
          src.size(2) == dst.size(2) && src.size(3) == dst.size(3)) {
        src = adapt_input_conv(src.to(torch::kFloat32), dst.size(1));
        report.stem_adapted = true;
      } else if (key.rfind(o.head_prefix, 0) == 0) {
        report.reinitialized.push_back(key);
        continue;
      } else {
        fail(f, ": `", key, "` has shape ", src.sizes(), " in the file but ", dst.sizes(), " in the model");
      }
    }
    dst.copy_(src.to(dst.dtype()));
    ++report.loaded;
  }
  return report;
}

}  // namespace cadence
