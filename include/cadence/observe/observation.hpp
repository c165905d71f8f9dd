#pragma once
// One observation file of a Breakthrough Listen cadence, as the scan reads it: its header (SIGPROC's
// keys, which blimpy's HDF5 files carry as attributes too) and a reader of channel ranges. The two
// formats are observe/filterbank.hpp (.fil, pread) and observe/hdf5.hpp (.h5, chunked);
// open_observation() (in observe/hdf5.hpp) picks by extension. Light: no LibTorch.
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

namespace cadence::observe {

/// What the scan needs from a file's header. Frequencies in MHz, times in seconds.
struct Header {
  std::filesystem::path file;
  std::string source_name;
  double fch1 = 0.0;     // the first channel's frequency
  double foff = 0.0;     // channel width (negative: frequency falls with the channel number, as at Green Bank)
  double tsamp = 0.0;    // seconds per time sample
  double tstart = 0.0;   // MJD of the first sample
  double src_raj = 0.0;  // right ascension, SIGPROC's hhmmss.s (0 where the header has none)
  double src_dej = 0.0;  // declination, SIGPROC's ddmmss.s
  std::int64_t nchans = 0, nifs = 1, nbits = 32;
  std::int64_t nsamples = 0;  // time samples in the file (from its size, or the HDF5 dataset's shape)

  /// The centre frequency of (fractional) channel `c`.
  double frequency(double c) const { return fch1 + foff * c; }
};

/// A file of one cadence position. read() is safe to call from several threads at once.
class File {
 public:
  virtual ~File() = default;
  virtual const Header& header() const = 0;
  /// Channels [first, first + count) of IF 0, every time sample: nsamples x count floats, row-major.
  virtual void read(std::int64_t first, std::int64_t count, float* out) const = 0;
};

}  // namespace cadence::observe
