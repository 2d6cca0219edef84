// The launch-cost benchmark's kernel, loaded at run time: the same work as the
// built-in tick (counter[0] += 1, one thread).
#include <hip/hip_runtime.h>

extern "C" __global__ void tick_user(unsigned *counter) {
  if (blockIdx.x == 0 && threadIdx.x == 0) counter[0] += 1u;
}
