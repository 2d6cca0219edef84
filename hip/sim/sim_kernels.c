/* sim backend: C reference kernels of hip/launch.h (kernels/faults.hip and
 * kernels/bench.hip). Launch geometry and its limit check come from
 * kernels/launch_config.h, as on the GPU backends. */
#include <stdint.h>

/* hip/launch.h has a nested comment opener in a comment; keep -Wcomment quiet
 * for it only. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wcomment"
#include "launch.h"
#pragma GCC diagnostic pop
#include "launch_config.h"
#include "sim.h"

static int32_t check(int32_t dev, fl_launch_dims dims) { return sim_check_launch(dev, dims.grid, dims.block); }

/* fault_write_at: one store of an f32 at addr, wherever it points. */
typedef struct {
  uint64_t addr;
  float value;
} fault_write_at_args;

static void fault_write_at_kernel(const void *p) {
  const fault_write_at_args *a = p;
  *(volatile float *)(uintptr_t)a->addr = a->value;
}

FL_EXPORT int32_t fl_launch_fault_write_at(int32_t dev, uint64_t stream, uint64_t addr, float value) {
  int32_t st = check(dev, fl_config_fault_write_at());
  if (st) return st;
  fault_write_at_args a = {addr, value};
  return sim_launch(dev, stream, "fault_write_at", fault_write_at_kernel, &a, sizeof a);
}

/* fault_fill: n f32 stores of value from dst, in index order, so a run past
 * the buffer is silent inside the mapped page and faults at the first
 * unmapped one. */
typedef struct {
  uint64_t dst;
  uint64_t n;
  float value;
} fault_fill_args;

static void fault_fill_kernel(const void *p) {
  const fault_fill_args *a = p;
  volatile float *dst = (volatile float *)(uintptr_t)a->dst;
  for (uint64_t i = 0; i < a->n; i++) dst[i] = a->value;
}

FL_EXPORT int32_t fl_launch_fault_fill(int32_t dev, uint64_t stream, uint64_t dst, uint64_t n, float value) {
  int32_t st = check(dev, fl_config_fault_fill(n));
  if (st) return st;
  fault_fill_args a = {dst, n, value};
  return sim_launch(dev, stream, "fault_fill", fault_fill_kernel, &a, sizeof a);
}

/* redzone_check: out[i] = offset of the first byte of range i that is not the pattern, or -1. */
typedef struct {
  uint64_t table;
  uint64_t out;
  uint32_t n;
  uint32_t pattern;
} redzone_check_args;

static void redzone_check_kernel(const void *p) {
  const redzone_check_args *a = p;
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

FL_EXPORT int32_t fl_launch_redzone_check(int32_t dev, uint64_t stream, uint64_t table, uint32_t n,
                                          uint32_t pattern, uint64_t out) {
  int32_t st = check(dev, fl_config_redzone_check(n));
  if (st) return st;
  redzone_check_args a = {table, out, n, pattern};
  return sim_launch(dev, stream, "redzone_check", redzone_check_kernel, &a, sizeof a);
}

/* tick: counter[0] += 1 (u32). */
typedef struct {
  uint64_t counter;
} tick_args;

static void tick_kernel(const void *p) {
  const tick_args *a = p;
  volatile uint32_t *c = (volatile uint32_t *)(uintptr_t)a->counter;
  *c = *c + 1;
}

FL_EXPORT int32_t fl_launch_tick(int32_t dev, uint64_t stream, uint64_t counter) {
  int32_t st = check(dev, fl_config_tick());
  if (st) return st;
  tick_args a = {counter};
  return sim_launch(dev, stream, "tick", tick_kernel, &a, sizeof a);
}

FL_EXPORT int32_t fl_bench_tick_loop(int32_t dev, uint64_t stream, uint64_t counter, int32_t n) {
  for (int32_t i = 0; i < n; i++) {
    int32_t st = fl_launch_tick(dev, stream, counter);
    if (st) return st;
  }
  return 0;
}
