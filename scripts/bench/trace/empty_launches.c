/* The trace benchmark's program (driver API, linked -lcuda): `n` launches of an empty kernel,
 * one thread each, on the legacy stream, timed on the host.
 *
 *   empty_launches <module> <n>
 *
 * Prints two numbers, ns per launch: the launch loop alone, and the loop plus the wait for the
 * device to finish them. Run bare and under the interposer, the difference is what tracing adds
 * to a launch. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <cuda.h>

static double now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

#define CHECK(x)                                                       \
  do {                                                                 \
    CUresult st_ = (x);                                                \
    if (st_ != CUDA_SUCCESS) {                                         \
      fprintf(stderr, "%s failed: %d\n", #x, (int)st_);                \
      return 1;                                                        \
    }                                                                  \
  } while (0)

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s <module> <n>\n", argv[0]);
    return 2;
  }
  long n = atol(argv[2]);
  CUdevice dev;
  CUcontext ctx;
  CUmodule mod;
  CUfunction empty;
  CHECK(cuInit(0));
  CHECK(cuDeviceGet(&dev, 0));
  CHECK(cuDevicePrimaryCtxRetain(&ctx, dev));
  CHECK(cuCtxSetCurrent(ctx));
  CHECK(cuModuleLoad(&mod, argv[1]));
  CHECK(cuModuleGetFunction(&empty, mod, "empty"));
  for (int i = 0; i < 1000; i++) CHECK(cuLaunchKernel(empty, 1, 1, 1, 1, 1, 1, 0, NULL, NULL, NULL));
  CHECK(cuCtxSynchronize());
  double t0 = now_ns();
  for (long i = 0; i < n; i++) CHECK(cuLaunchKernel(empty, 1, 1, 1, 1, 1, 1, 0, NULL, NULL, NULL));
  double t1 = now_ns();
  CHECK(cuCtxSynchronize());
  double t2 = now_ns();
  printf("%.1f %.1f\n", (t1 - t0) / (double)n, (t2 - t0) / (double)n);
  return 0;
}
