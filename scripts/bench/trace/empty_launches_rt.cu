// The trace benchmark's runtime-API program (nvcc, static cudart: every driver entry point
// reached through cuGetProcAddress): `n` empty launches of one thread on the legacy stream.
//
//   empty_launches_rt <n>
//
// Prints ns per launch for the launch loop alone, and for the loop plus the wait for the device.
#include <cstdio>
#include <cstdlib>
#include <ctime>

__global__ void empty() {}

static double now_ns() {
  timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s <n>\n", argv[0]);
    return 2;
  }
  long n = std::atol(argv[1]);
  for (int i = 0; i < 1000; i++) empty<<<1, 1>>>();
  if (cudaDeviceSynchronize() != cudaSuccess) return 1;
  double t0 = now_ns();
  for (long i = 0; i < n; i++) empty<<<1, 1>>>();
  double t1 = now_ns();
  cudaError_t st = cudaDeviceSynchronize();
  double t2 = now_ns();
  if (st != cudaSuccess) {
    std::fprintf(stderr, "cudaDeviceSynchronize: %s\n", cudaGetErrorString(st));
    return 1;
  }
  std::printf("%.1f %.1f\n", (t1 - t0) / (double)n, (t2 - t0) / (double)n);
  return 0;
}
