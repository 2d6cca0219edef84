// A RoPE kernel as an engine might write it: one thread per (token, head, pair),
// the NeoX layout (pairs i and i + head_dim/2), positions read from the device.
// faultline loads it with loadKernels (scripts/experiments/own_kernel.ts).
#include <hip/hip_runtime.h>

extern "C" __global__ void rope_user(float *x, const int *pos, unsigned n_tokens, unsigned n_heads,
                                     unsigned head_dim, float freq_base) {
  const unsigned half = head_dim / 2;
  const unsigned i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n_tokens * n_heads * half) return;
  const unsigned pair = i % half, head = (i / half) % n_heads, token = i / (half * n_heads);
  const float theta = pos[token] * powf(freq_base, -2.0f * pair / head_dim);
  float *row = x + ((size_t)token * n_heads + head) * head_dim;
  const float c = cosf(theta), s = sinf(theta), a = row[pair], b = row[pair + half];
  row[pair] = a * c - b * s;
  row[pair + half] = a * s + b * c;
}
