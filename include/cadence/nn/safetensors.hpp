#pragma once
// The safetensors container, torch-free (what the weights fuzzer exercises): an 8-byte little-endian
// header length, a JSON header {name: {dtype, shape, data_offsets}, "__metadata__": {...}}, then the
// raw little-endian data. Every size is checked against the file before anything is read or made.
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "cadence/core/error.hpp"

namespace cadence::safetensors {

struct Entry {
  std::string name, dtype;  // dtype: F32, F16, BF16, F64, I64, U8
  std::vector<std::int64_t> shape;
  std::size_t begin = 0, end = 0;  // absolute byte offsets of the data in the file
};

struct Contents {
  std::vector<Entry> entries;
  std::string recorded_model;  // __metadata__.timm_model, if any
};

inline std::size_t dtype_size(std::string_view dtype) {
  if (dtype == "F32") return 4;
  if (dtype == "F16" || dtype == "BF16") return 2;
  if (dtype == "F64" || dtype == "I64") return 8;
  if (dtype == "U8") return 1;
  return 0;
}

/// Parses and checks the header of a safetensors file of `bytes` (the whole file).
inline Contents parse(std::string_view bytes, const std::string& file) {
  if (bytes.size() < 8) fail(file, ": truncated safetensors file");
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(bytes[static_cast<std::size_t>(i)]);
  if (n > bytes.size() - 8) fail(file, ": truncated safetensors file (header of ", n, " bytes)");
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(bytes.substr(8, n));
  } catch (const nlohmann::json::exception& e) {
    fail(file, ": bad safetensors header: ", first_line(e.what()));
  }
  if (!header.is_object()) fail(file, ": bad safetensors header: not a JSON object");
  const std::size_t base = 8 + n;
  Contents c;
  for (const auto& [name, info] : header.items()) {
    if (name == "__metadata__") {
      if (info.is_object() && info.contains("timm_model") && info["timm_model"].is_string())
        c.recorded_model = info["timm_model"];
      continue;
    }
    const std::string at = file + ": `" + first_line(name, 80) + "`";
    if (!info.is_object() || !info.contains("dtype") || !info.contains("shape") || !info.contains("data_offsets") ||
        !info["dtype"].is_string() || !info["shape"].is_array() || !info["data_offsets"].is_array() ||
        info["data_offsets"].size() != 2)
      fail(at, ": expected {dtype, shape, data_offsets}");
    Entry e{name, info["dtype"].get<std::string>(), {}, 0, 0};
    const std::size_t item = dtype_size(e.dtype);
    if (item == 0) fail(at, ": unsupported dtype ", first_line(e.dtype, 20));
    std::uint64_t numel = 1;
    for (const auto& d : info["shape"]) {
      if (!d.is_number_unsigned() || d.get<std::uint64_t>() > (std::uint64_t{1} << 40)) fail(at, ": bad shape");
      const auto v = d.get<std::uint64_t>();
      if (v != 0 && numel > std::numeric_limits<std::uint64_t>::max() / 8 / v) fail(at, ": bad shape");
      numel *= v;
      e.shape.push_back(static_cast<std::int64_t>(v));
    }
    const auto& offs = info["data_offsets"];
    if (!offs[0].is_number_unsigned() || !offs[1].is_number_unsigned()) fail(at, ": bad data offsets");
    const auto b = offs[0].get<std::uint64_t>(), en = offs[1].get<std::uint64_t>();
    if (en < b || en > bytes.size() - base || en - b != numel * item)
      fail(at, ": data offsets do not fit the file (truncated?)");
    e.begin = base + b;
    e.end = base + en;
    c.entries.push_back(std::move(e));
  }
  return c;
}

}  // namespace cadence::safetensors
