// See arrow_memory.h.
#include "arrow_memory.h"

#include <malloc.h>

#include <mutex>

namespace lakehouse::queryd {

void KeepResultBuffersMapped() {
  static std::once_flag once;
  std::call_once(once, [] {
    // 32 MiB is glibc's largest mmap threshold on 64-bit (its dynamic threshold stops there too);
    // setting it fixes both thresholds, which glibc otherwise moves as blocks are freed.
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
  });
}

}  // namespace lakehouse::queryd
