#pragma once
// Host memory for CPU training: keep freed blocks in the process.
//
// LibTorch's CPU tensors come from glibc's malloc, which serves any block of 32 MiB or more with a
// fresh mmap and unmaps it on free. A training step at the seed's sizes allocates and frees about a
// gigabyte of such blocks (the learned resizer works at 819 x 256 x 16 channels: 107 MB per batch of
// 8 per activation), so every step faults all of it back in page by page and the kernel zeroes each
// page: measured at 2 threads, 60% of the step's time went to the kernel. Turning glibc's mmap path
// off and its trimming up keeps those blocks in the heap, where the next step reuses them; the peak
// resident size is unchanged (the same blocks are live at the peak either way). PyTorch users get
// the same with LD_PRELOAD of jemalloc or tcmalloc, or GLIBC_TUNABLES; cadence does it itself.
#include <climits>  // first: it defines __GLIBC__ where glibc is the C library

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace cadence {

/// Keeps freed heap memory for reuse (glibc: no mmap'd blocks, trim only above 2 GiB free at the
/// top). Process-wide; call once, early, before the large allocations. True where it applied.
inline bool keep_freed_memory() {
#if defined(__GLIBC__)
  const bool a = mallopt(M_MMAP_MAX, 0) == 1;
  const bool b = mallopt(M_TRIM_THRESHOLD, INT_MAX) == 1;
  return a && b;
#else
  return false;
#endif
}

}  // namespace cadence
