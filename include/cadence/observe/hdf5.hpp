#pragma once
// Breakthrough Listen's HDF5 filterbank (.h5, as blimpy writes it): a dataset `data` of shape
// (time, IF, channel), usually compressed with the bitshuffle filter (HDF5 filter 32008, with LZ4),
// whose attributes carry the SIGPROC header (fch1, foff, tsamp, nchans, nifs, nbits, source_name, ...).
// Reads go through libhdf5 (a hyperslab per read, so memory stays flat in the file's size: at most a
// chunk cache sized for one row of chunks); the bitshuffle filter is a plugin that libhdf5 loads at
// run time: Debian's package `bitshuffle` puts it in libhdf5's default plugin directory.
// libhdf5 here is not built thread-safe, so reads hold one process-wide lock.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "cadence/core/error.hpp"
#include "cadence/core/regular_file.hpp"
#include "cadence/observe/filterbank.hpp"
#include "cadence/observe/observation.hpp"

#if CADENCE_HAS_HDF5
#include <hdf5.h>
#endif

namespace cadence::observe {

#if CADENCE_HAS_HDF5

namespace h5 {

inline std::mutex& lock() {
  static std::mutex m;
  return m;
}

/// An hid_t that closes itself.
class Id {
 public:
  Id() = default;
  Id(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  Id(Id&& o) noexcept : id_(o.id_), close_(o.close_) { o.id_ = -1; }
  Id& operator=(Id&& o) noexcept {
    std::swap(id_, o.id_);
    std::swap(close_, o.close_);
    return *this;
  }
  ~Id() {
    if (id_ >= 0 && close_ != nullptr) close_(id_);
  }
  hid_t get() const { return id_; }
  bool ok() const { return id_ >= 0; }

 private:
  hid_t id_ = -1;
  herr_t (*close_)(hid_t) = nullptr;
};

/// Turns libhdf5's own error printing off for this process (every failure here becomes one line).
inline void quiet() {
  static const bool done = [] {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    return true;
  }();
  (void)done;
}

inline bool has_attribute(hid_t obj, const char* name) { return H5Aexists(obj, name) > 0; }

inline double number(hid_t obj, const char* name, const std::string& where) {
  Id a(H5Aopen(obj, name, H5P_DEFAULT), H5Aclose);
  if (!a.ok()) fail(where, ": the data set has no attribute `", name, "`");
  double v = 0;
  if (H5Aread(a.get(), H5T_NATIVE_DOUBLE, &v) < 0) fail(where, ": attribute `", name, "` is not a number");
  return v;
}

/// An optional numeric attribute: `otherwise` where it is absent or not a number (blimpy's writers have
/// stored sky positions both ways).
inline double number_or(hid_t obj, const char* name, double otherwise) {
  if (H5Aexists(obj, name) <= 0) return otherwise;
  Id a(H5Aopen(obj, name, H5P_DEFAULT), H5Aclose);
  if (!a.ok()) return otherwise;
  Id type(H5Aget_type(a.get()), H5Tclose);
  const auto c = H5Tget_class(type.get());
  if (c != H5T_FLOAT && c != H5T_INTEGER) return otherwise;
  double v = otherwise;
  if (H5Aread(a.get(), H5T_NATIVE_DOUBLE, &v) < 0) return otherwise;
  return v;
}

/// blimpy's HDF5 files hold the sky position in decimal hours (RA) and degrees (DEC); the header keeps
/// SIGPROC's hhmmss.s / ddmmss.s, as a .fil has it.
inline double sigproc_angle(double v) {
  const double a = std::abs(v), whole = std::floor(a), minutes = std::floor((a - whole) * 60.0);
  const double seconds = ((a - whole) * 60.0 - minutes) * 60.0;
  return std::copysign(whole * 10000.0 + minutes * 100.0 + seconds, v);
}

inline std::string text(hid_t obj, const char* name) {
  Id a(H5Aopen(obj, name, H5P_DEFAULT), H5Aclose);
  if (!a.ok()) return {};
  Id type(H5Aget_type(a.get()), H5Tclose);
  if (H5Tget_class(type.get()) != H5T_STRING) return {};
  if (H5Tis_variable_str(type.get()) > 0) {
    Id mem(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(mem.get(), H5T_VARIABLE);
    H5Tset_cset(mem.get(), H5Tget_cset(type.get()));
    char* s = nullptr;
    if (H5Aread(a.get(), mem.get(), &s) < 0 || s == nullptr) return {};
    std::string out(s);
    H5free_memory(s);
    return out;
  }
  const std::size_t n = H5Tget_size(type.get());
  std::string out(n, '\0');
  Id mem(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(mem.get(), n);
  if (H5Aread(a.get(), mem.get(), out.data()) < 0) return {};
  out.resize(std::min(out.find('\0'), out.size()));
  return out;
}

}  // namespace h5

/// A Breakthrough Listen .h5 file.
class Hdf5File final : public File {
 public:
  explicit Hdf5File(const std::filesystem::path& path) {
    const std::string where = path.string();
    std::lock_guard g(h5::lock());
    h5::quiet();
    require_regular_file(path, where);  // libhdf5 would block on a FIFO
    if (H5Fis_hdf5(path.c_str()) <= 0) fail(where, ": not an HDF5 file (or unreadable)");
    file_ = h5::Id(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
    if (!file_.ok()) fail(where, ": libhdf5 cannot open it (truncated or damaged?)");
    if (H5Lexists(file_.get(), "data", H5P_DEFAULT) <= 0)
      fail(where, ": no data set `data` (not a Breakthrough Listen filterbank file)");
    data_ = h5::Id(H5Dopen2(file_.get(), "data", H5P_DEFAULT), H5Dclose);
    if (!data_.ok()) fail(where, ": cannot open the data set `data`");
    h5::Id space(H5Dget_space(data_.get()), H5Sclose);
    hsize_t dims[3] = {0, 0, 0};
    if (H5Sget_simple_extent_ndims(space.get()) != 3) fail(where, ": `data` is not 3-dimensional (time, IF, channel)");
    H5Sget_simple_extent_dims(space.get(), dims, nullptr);
    const hid_t d = data_.get();
    h_.file = path;
    h_.fch1 = h5::number(d, "fch1", where);
    h_.foff = h5::number(d, "foff", where);
    h_.tsamp = h5::number(d, "tsamp", where);
    h_.tstart = h5::has_attribute(d, "tstart") ? h5::number(d, "tstart", where) : 0.0;
    h_.nchans = static_cast<std::int64_t>(h5::number(d, "nchans", where));
    h_.nifs = h5::has_attribute(d, "nifs") ? static_cast<std::int64_t>(h5::number(d, "nifs", where)) : 1;
    h_.nbits = h5::has_attribute(d, "nbits") ? static_cast<std::int64_t>(h5::number(d, "nbits", where)) : 32;
    h_.source_name = h5::text(d, "source_name");
    h_.src_raj = h5::sigproc_angle(h5::number_or(d, "src_raj", 0.0));
    h_.src_dej = h5::sigproc_angle(h5::number_or(d, "src_dej", 0.0));
    h_.nsamples = static_cast<std::int64_t>(dims[0]);
    sigproc::check(h_, where);
    if (static_cast<std::int64_t>(dims[2]) != h_.nchans || static_cast<std::int64_t>(dims[1]) != h_.nifs)
      fail(where, ": `data` is ", dims[0], " x ", dims[1], " x ", dims[2], " but the header says nifs ", h_.nifs,
           ", nchans ", h_.nchans);
    if (h_.nsamples < 1) fail(where, ": `data` has no time samples");
    // every filter the data needs must be there (bitshuffle is a plugin: say which package has it)
    h5::Id dcpl(H5Dget_create_plist(d), H5Pclose);
    const int filters = H5Pget_nfilters(dcpl.get());
    for (int i = 0; i < filters; ++i) {
      unsigned flags = 0, config = 0;
      std::size_t n = 0;
      char name[256] = {};
      const H5Z_filter_t id =
          H5Pget_filter2(dcpl.get(), static_cast<unsigned>(i), &flags, &n, nullptr, sizeof name, name, &config);
      if (H5Zfilter_avail(id) <= 0) {
        if (id == 32008)
          fail(where,
               ": compressed with the bitshuffle filter (HDF5 filter 32008), which libhdf5 cannot load: "
               "install Debian's package `bitshuffle` (apt install bitshuffle), or point HDF5_PLUGIN_PATH at "
               "libh5bshuf.so");
        fail(where, ": compressed with HDF5 filter ", id, " (", name,
             "), which libhdf5 cannot load (install its plugin; see HDF5_PLUGIN_PATH)");
      }
    }
    if (H5Pget_layout(dcpl.get()) == H5D_CHUNKED) {
      hsize_t chunk[3] = {1, 1, 1};
      H5Pget_chunk(dcpl.get(), 3, chunk);
      // a cache that holds one row of chunks across time, so reading a file block by block decompresses each chunk once
      h5::Id type(H5Dget_type(d), H5Tclose);
      const auto chunk_bytes = static_cast<std::size_t>(chunk[0] * chunk[1] * chunk[2]) * H5Tget_size(type.get());
      const auto rows = static_cast<std::size_t>((dims[0] + chunk[0] - 1) / chunk[0]);
      const std::size_t cache =
          std::min<std::size_t>(std::size_t{512} << 20, chunk_bytes * rows + (std::size_t{1} << 20));
      h5::Id dapl(H5Pcreate(H5P_DATASET_ACCESS), H5Pclose);
      H5Pset_chunk_cache(dapl.get(), 10007, cache, 1.0);
      data_ = h5::Id(H5Dopen2(file_.get(), "data", dapl.get()), H5Dclose);
    }
  }

  const Header& header() const override { return h_; }

  void read(std::int64_t first, std::int64_t count, float* out) const override {
    if (first < 0 || count < 1 || first + count > h_.nchans)
      fail(h_.file.string(), ": channels [", first, ", ", first + count, ") are outside 0..", h_.nchans);
    std::lock_guard g(h5::lock());
    h5::Id space(H5Dget_space(data_.get()), H5Sclose);
    const hsize_t start[3] = {0, 0, static_cast<hsize_t>(first)};
    const hsize_t size[3] = {static_cast<hsize_t>(h_.nsamples), 1, static_cast<hsize_t>(count)};
    H5Sselect_hyperslab(space.get(), H5S_SELECT_SET, start, nullptr, size, nullptr);
    h5::Id mem(H5Screate_simple(3, size, nullptr), H5Sclose);
    if (H5Dread(data_.get(), H5T_NATIVE_FLOAT, mem.get(), space.get(), H5P_DEFAULT, out) < 0)
      fail(h_.file.string(), ": libhdf5 cannot read channels [", first, ", ", first + count,
           ") (a damaged or truncated file?)");
  }

 private:
  h5::Id file_, data_;
  Header h_;
};

#endif  // CADENCE_HAS_HDF5

/// Opens a .fil or .h5 file (by its extension).
inline std::unique_ptr<File> open_observation(const std::filesystem::path& path) {
  if (!std::filesystem::exists(path)) fail(path.string(), ": no such file");
  const auto ext = path.extension().string();
  if (ext == ".fil") return std::make_unique<FilterbankFile>(path);
  if (ext == ".h5" || ext == ".hdf5") {
#if CADENCE_HAS_HDF5
    return std::make_unique<Hdf5File>(path);
#else
    fail(path.string(), ": this build of cadence has no HDF5 (install Debian's libhdf5-dev and configure again)");
#endif
  }
  fail(path.string(), ": unknown observation format `", ext, "` (expected .fil or .h5)");
}

}  // namespace cadence::observe
