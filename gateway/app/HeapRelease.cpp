#include "HeapRelease.h"

#include <malloc.h>

namespace popgate::gateway {

namespace {
constexpr int kBigBlockBytes = 256 * 1024;
}

void keepBigBlocksApart() noexcept {
  // A fixed threshold also stops glibc from adjusting it (and the trim threshold) on its own.
  mallopt(M_MMAP_THRESHOLD, kBigBlockBytes);
  mallopt(M_TRIM_THRESHOLD, 2 * kBigBlockBytes);
}

void releaseFreedMemory() noexcept { malloc_trim(0); }

}  // namespace popgate::gateway
