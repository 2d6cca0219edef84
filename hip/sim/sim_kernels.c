/* sim backend: C reference versions of the runtime's own kernels (declared in
 * ffi/kernels_base.ts: kernels/faults.hip, kernels/redzone.hip,
 * kernels/bench.hip). Each sim_<name> gets its fl_args_<name>; the generated
 * launch export takes the geometry from kernels/launch_config.h, as on the
 * GPU backends. */
#include <stdint.h>

#include "fl_kernels.h"
#include "launch.h"
#include "sim.h"

/* fault_write_at: one store of an f32 at addr, wherever it points. */
void sim_fault_write_at(const void *p) {
  const fl_args_fault_write_at *a = p;
  *(volatile float *)(uintptr_t)a->addr = a->value;
}

/* fault_fill: n f32 stores of value from dst, in index order, so a run past
 * the buffer is silent inside the mapped page and faults at the first
 * unmapped one. */
void sim_fault_fill(const void *p) {
  const fl_args_fault_fill *a = p;
  volatile float *dst = (volatile float *)(uintptr_t)a->dst;
  for (uint64_t i = 0; i < a->n; i++) dst[i] = a->value;
}

/* redzone_check: out[i] = offset of the first byte of range i that is not the pattern, or -1. */
void sim_redzone_check(const void *p) {
  const fl_args_redzone_check *a = p;
  const volatile uint64_t *table = (const volatile uint64_t *)(uintptr_t)a->table;
  volatile int64_t *out = (volatile int64_t *)(uintptr_t)a->out;
  const uint8_t pat = (uint8_t)a->pattern;
  for (uint32_t e = 0; e < a->n; e++) {
    const volatile uint8_t *r = (const volatile uint8_t *)(uintptr_t)table[2 * e];
    const uint64_t bytes = table[2 * e + 1];
    int64_t first = -1;
    for (uint64_t i = 0; i < bytes; i++) {
      if (r[i] != pat) {
        first = (int64_t)i;
        break;
      }
    }
    out[e] = first;
  }
}

/* tick: counter[0] += 1 (u32). */
void sim_tick(const void *p) {
  const fl_args_tick *a = p;
  volatile uint32_t *c = (volatile uint32_t *)(uintptr_t)a->counter;
  *c = *c + 1;
}

FL_EXPORT int32_t fl_bench_tick_loop(int32_t dev, uint64_t stream, uint64_t counter, int32_t n) {
  for (int32_t i = 0; i < n; i++) {
    int32_t st = fl_launch_tick(dev, stream, counter);
    if (st) return st;
  }
  return 0;
}
