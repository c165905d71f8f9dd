#pragma once
// The files a training writes: model.pt (the best weights) and last.pt (everything a resume needs),
// LibTorch archives written atomically, and what each records of its origin.
//
// A checkpoint carries its identity (the archive key "cadence_identity", a JSON string): the job that
// wrote it ("pretrain", "finetune", "holdout"), the fold (-1 outside finetune) and the run's fingerprint
// config (recipes/fingerprint.hpp: the architecture, every shape-deciding model.* option, the data's
// stages). load_checkpoint refuses one whose identity does not match what loads it, naming both sides,
// so a checkpoint copied from another fold, job or run is never used. Every load also compares each
// tensor's shape with the module's: LibTorch's Module::load would replace a parameter of another shape
// without a word. Imported weights (model.weights: timm's safetensors or state dicts) go through
// nn/timm_import.hpp instead and carry no identity.
#include <filesystem>
#include <functional>
#include <sstream>
#include <string>

#include <torch/nn/module.h>
#include <torch/serialize.h>

#include "cadence/config/options.hpp"
#include "cadence/core/atomic_file.hpp"
#include "cadence/core/error.hpp"
#include "cadence/dist/group.hpp"
#include "cadence/train/checkpoint_identity.hpp"

namespace cadence {

/// Writes a LibTorch archive atomically. The archive is made in memory first: LibTorch's file writer
/// reports a failed write (a full disk) from a destructor, which ends the process in std::terminate.
inline void save_archive(torch::serialize::OutputArchive& archive, const std::filesystem::path& path) {
  std::ostringstream mem;
  archive.save_to(mem);
  write_text_atomically(path, [&](std::ostream& o) { o << mem.view(); });
}

/// Adds `id` to an archive being written (model.pt, last.pt).
inline void write_identity(torch::serialize::OutputArchive& a, const CheckpointIdentity& id) {
  if (!id.job.empty()) a.write("cadence_identity", c10::IValue(id.to_json().dump()));
}

/// Saves a module's parameters and buffers atomically, with its identity when one is given.
template <class Net>
void save_module(const Net& net, const std::filesystem::path& path, const CheckpointIdentity& id = {}) {
  torch::serialize::OutputArchive a;
  net->save(a);
  write_identity(a, id);
  save_archive(a, path);
}

/// The device a module's tensors are on (its first parameter's or buffer's; the CPU when it has none).
template <class Net>
torch::Device module_device(const Net& net) {
  for (const auto& p : net->parameters()) return p.device();
  for (const auto& b : net->buffers()) return b.device();
  return torch::kCPU;
}

namespace detail {
/// Fails, naming the file and the tensor, where the archive holds a tensor of another shape than the module's.
inline void check_shapes(torch::nn::Module& m, torch::serialize::InputArchive& a, const std::string& prefix,
                         const std::filesystem::path& file) {
  auto compare = [&](const std::string& key, const torch::Tensor& mine, bool buffer) {
    torch::Tensor saved;
    if (!a.try_read(key, saved, buffer) || !saved.defined() || !mine.defined() || saved.sizes() == mine.sizes()) return;
    std::ostringstream s;
    s << file.string() << ": " << prefix << key << " is " << saved.sizes() << " in the checkpoint but " << mine.sizes()
      << " in this network: the file was written for another model or model.* options";
    throw Error(s.str());
  };
  for (const auto& p : m.named_parameters(/*recurse=*/false)) compare(p.key(), p.value(), false);
  for (const auto& b : m.named_buffers(/*recurse=*/false)) compare(b.key(), b.value(), true);
  for (const auto& c : m.named_children()) {
    torch::serialize::InputArchive sub;
    if (a.try_read(c.key(), sub)) check_shapes(*c.value(), sub, prefix + c.key() + ".", file);
  }
}

/// The identity an archive records; an empty one (job "") when it records none.
inline CheckpointIdentity read_identity(torch::serialize::InputArchive& a) {
  c10::IValue v;
  CheckpointIdentity id;
  if (!a.try_read("cadence_identity", v) || !v.isString()) return id;
  const auto j = config::json::parse(v.toStringRef(), nullptr, false);
  if (!j.is_object()) return id;
  id.job = j.value("job", std::string());
  id.fold = j.value("fold", -1);
  id.config = j.contains("config") ? j["config"] : config::json();
  return id;
}

}  // namespace detail

/// Checks a checkpoint read into `a` against `net` (every tensor's shape) and `check` (its identity);
/// errors name `path`.
template <class Net>
void verify_checkpoint(torch::serialize::InputArchive& a, Net& net, const std::filesystem::path& path,
                       const IdentityCheck& check) {
  if (!check.expected.job.empty()) {
    const auto why = detail::identity_mismatch(detail::read_identity(a), check.expected, check.config_differs);
    if (!why.empty())
      fail(path.string(), ": ", why, "; it does not belong here (remove it, or use the run it came from)");
  }
  detail::check_shapes(*net, a, "", path);
}

/// Loads weights saved by save_module onto the module's device (weights trained on a GPU predict on a
/// CPU and the other way round); a truncated file, one of another network or shape, or (with `check`)
/// one of another job, fold or run is one line naming it. In a data-parallel run rank 0 reads the file
/// and every rank loads its bytes (all ranks call it).
template <class Net>
void load_module(Net& net, const std::filesystem::path& path, const IdentityCheck& check = {}) {
  const auto bytes = dist::read_on_leader(path);
  if (!bytes) fail(path.string(), ": no such checkpoint");
  torch::serialize::InputArchive a;
  try {
    a.load_from(bytes->data(), bytes->size(), module_device(net));
  } catch (const std::exception& e) {
    fail(path.string(), ": cannot load these weights (", first_line(e.what()),
         "); the file is truncated or not a checkpoint");
  }
  verify_checkpoint(a, net, path, check);
  try {
    net->load(a);
  } catch (const std::exception& e) {
    fail(path.string(), ": cannot load these weights (", first_line(e.what()),
         "); the file is truncated, or was written for another model or model.* options");
  }
}

}  // namespace cadence
