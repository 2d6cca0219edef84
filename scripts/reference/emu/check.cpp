/* Runs every llama GPU kernel (through its launcher in kernels/llama/) under
 * the CPU emulation of vendor.h and compares it with the sim backend's C
 * reference (hip/sim/llama_kernels.c, called on host memory): same sizes and
 * paths as tests/kernels_*.test.ts (aligned and scalar fast paths, GQA, odd
 * sizes, device positions). Exit status 1 on any mismatch. */
#include "vendor.h"
#include "launch_config_llama.h"
#include "fl_kernel_launchers.h"
#include <cstdio>
#include <random>

/* sim_<name>(&args) runs the C reference on host memory; fl_gpu_<name> the
 * GPU launcher under the emulation, with the geometry its export would use. */
static flgpu::Launch L;
static int fails = 0;
#define SIM(kernel, ...)                    \
  do {                                      \
    const fl_args_##kernel a_{__VA_ARGS__}; \
    sim_##kernel(&a_);                      \
  } while (0)
#define GPU(kernel, ...)                                    \
  do {                                                      \
    const fl_args_##kernel a_{__VA_ARGS__};                 \
    fl_launch_dims dd[FL_KERNEL_MAX_PHASES] = {};           \
    if (fl_geometry_##kernel(&a_, dd)) { fails++; break; }  \
    fl_gpu_##kernel(L, dd, a_);                             \
  } while (0)

static std::mt19937 rng(12345);
static std::vector<float> rnd(size_t n, float lo = -1, float hi = 1) {
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(n);
  for (auto &x : v) x = u(rng);
  return v;
}
static uint16_t f2h(float f) {  // round to nearest even, normal range only is enough here
  uint32_t b; memcpy(&b, &f, 4);
  uint32_t sign = (b >> 16) & 0x8000; int e = ((b >> 23) & 0xff) - 127 + 15; uint32_t m = b & 0x7fffff;
  if (e <= 0) return sign;
  uint32_t h = (e << 10) | (m >> 13); uint32_t r = m & 0x1fff;
  if (r > 0x1000 || (r == 0x1000 && (h & 1))) h++;
  return sign | h;
}
static std::vector<__half> toh(const std::vector<float> &v) {
  std::vector<__half> o(v.size());
  for (size_t i = 0; i < v.size(); i++) o[i].bits = f2h(v[i]);
  return o;
}
#define A(p) ((uint64_t)(uintptr_t)(p))
static void cmp(const char *what, const float *got, const float *want, size_t n, double tol = 1e-5) {
  double num = 0, den = 0; bool bad = false;
  for (size_t i = 0; i < n; i++) {
    if (std::isnan(want[i])) { if (!std::isnan(got[i])) bad = true; continue; }
    if (!std::isfinite(got[i])) { bad = true; continue; }
    num += (double)(got[i] - want[i]) * (got[i] - want[i]); den += (double)want[i] * want[i];
  }
  double err = den > 0 ? sqrt(num / den) : sqrt(num);
  bool ok = !bad && err < tol;
  if (!ok) fails++;
  printf("%s %-60s rel err %.3g%s\n", ok ? "ok  " : "FAIL", what, err, bad ? " (NaN/inf)" : "");
}
static std::vector<float> nanv(size_t n) { return std::vector<float>(n, __int_as_float(-1)); }

/* Random ggml blocks: random bytes, with each f16 scale (Q8_0/Q4_0 d; Q4_K d and dmin) set to a
 * random value in [lo, hi]. */
static std::vector<uint8_t> quant_rows(uint32_t rows, uint32_t cols, uint32_t block, uint32_t bytes, float lo, float hi) {
  std::uniform_int_distribution<int> byte(0, 255);
  std::vector<uint8_t> w((size_t)rows * (cols / block) * bytes);
  for (auto &b : w) b = (uint8_t)byte(rng);
  auto scale = rnd(w.size() / bytes * 2, lo, hi);
  for (size_t b = 0; b < w.size() / bytes; b++) {
    const uint16_t d = f2h(scale[2 * b]), m = f2h(scale[2 * b + 1]);
    memcpy(&w[b * bytes], &d, 2);
    if (block == 256) memcpy(&w[b * bytes + 2], &m, 2);
  }
  return w;
}
static bool same_bits(const std::vector<uint16_t> &a, const std::vector<uint16_t> &b) {
  return a.size() == b.size() && memcmp(a.data(), b.data(), a.size() * 2) == 0;
}
static void check_bits(const char *what, const std::vector<uint16_t> &got, const std::vector<uint16_t> &want) {
  const bool ok = same_bits(got, want);
  if (!ok) fails++;
  printf("%s %-60s %s\n", ok ? "ok  " : "FAIL", what, ok ? "same bits" : "bits differ");
}

static const char *filter = nullptr; /* argv[1]: run only the sections whose name contains it */
static bool want(const char *section) { return !filter || strstr(section, filter); }

int main(int argc, char **argv) {
  if (argc > 1) filter = argv[1];
  char name[200];
  // embed
  if (want("embed")) {
  for (uint32_t dim : {64u, 37u, 40u}) {
    uint32_t vocab = 50, nt = 5; std::vector<int32_t> tok = {3, -1, 49, 50, 7};
    auto table = rnd(vocab * dim); auto th = toh(table);
    auto r = nanv(nt * dim), g = nanv(nt * dim);
    SIM(embed_f32, A(r.data()), A(table.data()), A(tok.data()), nt, dim, vocab);
    GPU(embed_f32, A(g.data()), A(table.data()), A(tok.data()), nt, dim, vocab);
    snprintf(name, sizeof name, "embed_f32 dim %u", dim); cmp(name, g.data(), r.data(), r.size());
    r = nanv(nt * dim); g = nanv(nt * dim);
    SIM(embed_f16, A(r.data()), A(th.data()), A(tok.data()), nt, dim, vocab);
    GPU(embed_f16, A(g.data()), A(th.data()), A(tok.data()), nt, dim, vocab);
    snprintf(name, sizeof name, "embed_f16 dim %u", dim); cmp(name, g.data(), r.data(), r.size());
  }
  }
  // rmsnorm
  if (want("rmsnorm")) {
  for (auto [rows, dim] : {std::pair{3u, 4096u}, {5u, 1001u}, {2u, 96u}}) {
    auto x = rnd(rows * dim, -3, 3), w = rnd(dim, 0.5, 1.5); auto r = nanv(x.size()), g = nanv(x.size());
    SIM(rmsnorm, A(r.data()), A(x.data()), A(w.data()), rows, dim, 1e-5f);
    GPU(rmsnorm, A(g.data()), A(x.data()), A(w.data()), rows, dim, 1e-5f);
    snprintf(name, sizeof name, "rmsnorm %ux%u", rows, dim); cmp(name, g.data(), r.data(), r.size());
    GPU(rmsnorm, A(x.data()), A(x.data()), A(w.data()), rows, dim, 1e-5f);
    snprintf(name, sizeof name, "rmsnorm in place %ux%u", rows, dim); cmp(name, x.data(), r.data(), r.size());
  }
  }
  // matvec / matmul
  if (want("matvec matmul")) {
  for (auto [o, in] : {std::pair{64u, 4096u}, {30u, 1000u}, {13u, 1003u}, {1u, 1u}, {9u, 2048u}}) {
    auto w = rnd(o * in), x = rnd(in, -2, 2); auto wh = toh(w);
    auto r = nanv(o), g = nanv(o);
    SIM(matvec_f32, A(r.data()), A(w.data()), A(x.data()), o, in);
    GPU(matvec_f32, A(g.data()), A(w.data()), A(x.data()), o, in);
    snprintf(name, sizeof name, "matvec_f32 %ux%u", o, in); cmp(name, g.data(), r.data(), o);
    r = nanv(o); g = nanv(o);
    SIM(matvec_f16, A(r.data()), A(wh.data()), A(x.data()), o, in);
    GPU(matvec_f16, A(g.data()), A(wh.data()), A(x.data()), o, in);
    snprintf(name, sizeof name, "matvec_f16 %ux%u", o, in); cmp(name, g.data(), r.data(), o);
  }
  for (auto [t, o, in] : {std::tuple{37u, 70u, 133u}, {64u, 64u, 64u}, {1u, 33u, 31u}, {130u, 150u, 77u}}) {
    auto w = rnd(o * in), x = rnd(t * in, -2, 2); auto wh = toh(w);
    auto r = nanv(t * o), g = nanv(t * o);
    SIM(matmul_f32, A(r.data()), A(w.data()), A(x.data()), t, o, in);
    GPU(matmul_f32, A(g.data()), A(w.data()), A(x.data()), t, o, in);
    snprintf(name, sizeof name, "matmul_f32 %u %ux%u", t, o, in); cmp(name, g.data(), r.data(), r.size());
    r = nanv(t * o); g = nanv(t * o);
    SIM(matmul_f16, A(r.data()), A(wh.data()), A(x.data()), t, o, in);
    GPU(matmul_f16, A(g.data()), A(wh.data()), A(x.data()), t, o, in);
    snprintf(name, sizeof name, "matmul_f16 %u %ux%u", t, o, in); cmp(name, g.data(), r.data(), r.size());
  }
  }
  // quantized matvec, dequantization, the prefill GEMM path
  if (want("quant matvec_q dequant")) {
  for (auto [o, in] : {std::pair{13u, 256u}, {37u, 512u}, {9u, 1024u}, {1u, 256u}}) {
    const struct { const char *name; uint32_t block, bytes; } types[] = {{"q8_0", 32, 34}, {"q4_0", 32, 18}, {"q4_k", 256, 144}};
    for (auto t : types) {
      auto w = quant_rows(o, in, t.block, t.bytes, 0.001f, 0.05f);
      for (int mis : {0, 2}) {  // 2: weights and x off their 16-byte alignment (the narrow-load paths)
        std::vector<uint8_t> wm(w.size() + mis); std::copy(w.begin(), w.end(), wm.begin() + mis);
        auto x = rnd(in + 1, -2, 2); float *xp = x.data() + (mis ? 1 : 0);
        auto r = nanv(o), g = nanv(o);
        const uint64_t W = A(wm.data() + mis), X = A(xp);
        if (t.block == 32 && t.bytes == 34) { SIM(matvec_q8_0, A(r.data()), W, X, o, in); GPU(matvec_q8_0, A(g.data()), W, X, o, in); }
        if (t.bytes == 18) { SIM(matvec_q4_0, A(r.data()), W, X, o, in); GPU(matvec_q4_0, A(g.data()), W, X, o, in); }
        if (t.block == 256) { SIM(matvec_q4_k, A(r.data()), W, X, o, in); GPU(matvec_q4_k, A(g.data()), W, X, o, in); }
        snprintf(name, sizeof name, "matvec_%s %ux%u%s", t.name, o, in, mis ? " misaligned" : ""); cmp(name, g.data(), r.data(), o);
      }
      std::vector<uint16_t> rd((size_t)o * in, 0xffff), gd((size_t)o * in, 0xffff);
      if (t.bytes == 34) { SIM(dequant_q8_0, A(rd.data()), A(w.data()), o, in); GPU(dequant_q8_0, A(gd.data()), A(w.data()), o, in); }
      if (t.bytes == 18) { SIM(dequant_q4_0, A(rd.data()), A(w.data()), o, in); GPU(dequant_q4_0, A(gd.data()), A(w.data()), o, in); }
      if (t.block == 256) { SIM(dequant_q4_k, A(rd.data()), A(w.data()), o, in); GPU(dequant_q4_k, A(gd.data()), A(w.data()), o, in); }
      snprintf(name, sizeof name, "dequant_%s %ux%u", t.name, o, in); check_bits(name, gd, rd);
    }
  }
  }
  if (want("gemm convert_f16")) {
  for (uint32_t n : {4099u, 64u, 3u}) {
    auto x = rnd(n, -70000, 70000); x[0] = 1e-6f; x[n - 1] = -3e-8f;
    std::vector<uint16_t> r(n, 1), g(n, 2), g2(n + 1, 2);
    SIM(convert_f16, A(r.data()), A(x.data()), n);
    GPU(convert_f16, A(g.data()), A(x.data()), n);
    snprintf(name, sizeof name, "convert_f16 %u", n); check_bits(name, g, r);
  }
  for (auto [t, o, in] : {std::tuple{37u, 70u, 133u}, {64u, 64u, 64u}, {1u, 33u, 31u}, {130u, 150u, 77u}}) {
    auto w = toh(rnd(o * in)), x = toh(rnd(t * in, -2, 2));
    auto r = nanv(t * o), g = nanv(t * o);
    SIM(gemm_f16, A(r.data()), A(w.data()), A(x.data()), t, o, in);
    GPU(gemm_f16, A(g.data()), A(w.data()), A(x.data()), t, o, in);
    snprintf(name, sizeof name, "gemm_f16 %u %ux%u", t, o, in); cmp(name, g.data(), r.data(), r.size());
  }
  }
  // rope
  if (want("rope")) {
  for (auto [s, h, hd, pos] : {std::tuple{1u, 32u, 128u, 2047}, {7u, 8u, 128u, 0}, {5u, 5u, 6u, 100}, {2u, 1u, 2u, -3}}) {
    auto x = rnd(s * h * hd, -2, 2); auto r = x, g = x, g2 = x; int32_t p = pos;
    SIM(rope, A(r.data()), s, h, hd, pos, 10000.f);
    GPU(rope, A(g.data()), s, h, hd, pos, 10000.f);
    GPU(rope_dpos, A(g2.data()), s, h, hd, A(&p), 10000.f);
    snprintf(name, sizeof name, "rope %ux%ux%u at %d", s, h, hd, pos); cmp(name, g.data(), r.data(), r.size());
    snprintf(name, sizeof name, "rope_dpos %ux%ux%u at %d", s, h, hd, pos); cmp(name, g2.data(), r.data(), r.size());
    // misaligned x: scalar path
    std::vector<float> xm(x.size() + 1); std::copy(x.begin(), x.end(), xm.begin() + 1);
    GPU(rope, A(xm.data() + 1), s, h, hd, pos, 10000.f);
    snprintf(name, sizeof name, "rope misaligned %ux%ux%u at %d", s, h, hd, pos); cmp(name, xm.data() + 1, r.data(), r.size());
  }
  }
  // attention
  if (want("attention")) {
  for (auto [s, hq, hkv, hd, ctx] : {std::tuple{9u, 8u, 2u, 64u, 21u}, {4u, 4u, 4u, 128u, 200u}, {3u, 6u, 3u, 38u, 130u},
                                     {2u, 2u, 1u, 256u, 65u}, {1u, 32u, 1u, 16u, 1u}, {1u, 32u, 8u, 128u, 2048u}, {2u, 4u, 2u, 100u, 70u}, {4u, 4u, 2u, 160u, 37u},
                                     {70u, 2u, 1u, 128u, 150u}, {129u, 2u, 2u, 32u, 129u}, {65u, 3u, 1u, 96u, 66u}}) {
    auto k = rnd(ctx * hkv * hd, -2, 2), v = rnd(ctx * hkv * hd, -2, 2), q = rnd(s * hq * hd, -2, 2);
    auto r = nanv(q.size()), g = nanv(q.size());
    SIM(attention_prefill, A(r.data()), A(q.data()), A(k.data()), A(v.data()), s, hq, hkv, hd, ctx);
    if (ctx < 1000) {
      GPU(attention_prefill, A(g.data()), A(q.data()), A(k.data()), A(v.data()), s, hq, hkv, hd, ctx);
      snprintf(name, sizeof name, "attention_prefill s%u hq%u hkv%u d%u ctx%u", s, hq, hkv, hd, ctx); cmp(name, g.data(), r.data(), r.size());
    }
    std::vector<float> q1(q.end() - hq * hd, q.end()); auto r1 = nanv(q1.size()), g1 = nanv(q1.size());
    std::vector<float> scratch(fl_attn_decode_chunks(ctx) * hq * (hd + 2), __int_as_float(-1));
    auto sim_scratch = scratch; /* the reference writes the scratch extent too (an undersized one faults) */
    SIM(attention_decode, A(r1.data()), A(q1.data()), A(k.data()), A(v.data()), A(sim_scratch.data()), hq, hkv, hd, ctx);
    GPU(attention_decode, A(g1.data()), A(q1.data()), A(k.data()), A(v.data()), A(scratch.data()), hq, hkv, hd, ctx);
    snprintf(name, sizeof name, "attention_decode hq%u hkv%u d%u ctx%u", hq, hkv, hd, ctx); cmp(name, g1.data(), r1.data(), r1.size());
    // f16 caches: decode, and the prefill (flash tiles for head_dim 32..128 in steps of 32, else per query)
    auto kh = toh(k), vh = toh(v);
    r1 = nanv(q1.size()); g1 = nanv(q1.size());
    SIM(attention_decode_f16, A(r1.data()), A(q1.data()), A(kh.data()), A(vh.data()), A(sim_scratch.data()), hq, hkv, hd, ctx);
    GPU(attention_decode_f16, A(g1.data()), A(q1.data()), A(kh.data()), A(vh.data()), A(scratch.data()), hq, hkv, hd, ctx);
    snprintf(name, sizeof name, "attention_decode_f16 hq%u hkv%u d%u ctx%u", hq, hkv, hd, ctx); cmp(name, g1.data(), r1.data(), r1.size());
    if (ctx < 1000) {
      r = nanv(q.size()); g = nanv(q.size());
      SIM(attention_prefill_f16, A(r.data()), A(q.data()), A(kh.data()), A(vh.data()), s, hq, hkv, hd, ctx);
      GPU(attention_prefill_f16, A(g.data()), A(q.data()), A(kh.data()), A(vh.data()), s, hq, hkv, hd, ctx);
      snprintf(name, sizeof name, "attention_prefill_f16 s%u hq%u hkv%u d%u ctx%u", s, hq, hkv, hd, ctx); cmp(name, g.data(), r.data(), r.size());
      if (hd % 32 == 0 && hd <= 128) {  // the flash kernel's narrow-load path: q and out off their 16-byte alignment
        std::vector<float> qm(q.size() + 1), gm(q.size() + 1, __int_as_float(-1));
        std::copy(q.begin(), q.end(), qm.begin() + 1);
        GPU(attention_prefill_f16, A(gm.data() + 1), A(qm.data() + 1), A(kh.data()), A(vh.data()), s, hq, hkv, hd, ctx);
        snprintf(name, sizeof name, "  misaligned q and out"); cmp(name, gm.data() + 1, r.data(), r.size());
      }
    }
  }
  }
  // kv append
  if (want("kv_append")) {
  for (auto [s, hkv, hd, pos, ctx] : {std::tuple{5u, 2u, 64u, 13, 20u}, {4u, 2u, 64u, 18, 20u}, {3u, 3u, 5u, 0, 9u}, {3u, 2u, 8u, -1, 9u}}) {
    auto kc = rnd(ctx * hkv * hd), vc = rnd(ctx * hkv * hd), k = rnd(s * hkv * hd), v = rnd(s * hkv * hd);
    auto rk = kc, rv = vc, gk = kc, gv = vc, gk2 = kc, gv2 = vc; int32_t p = pos;
    SIM(kv_append, A(rk.data()), A(rv.data()), A(k.data()), A(v.data()), s, hkv, hd, pos, ctx);
    GPU(kv_append, A(gk.data()), A(gv.data()), A(k.data()), A(v.data()), s, hkv, hd, pos, ctx);
    GPU(kv_append_dpos, A(gk2.data()), A(gv2.data()), A(k.data()), A(v.data()), s, hkv, hd, A(&p), ctx);
    snprintf(name, sizeof name, "kv_append k %u %u %u at %d of %u", s, hkv, hd, pos, ctx); cmp(name, gk.data(), rk.data(), rk.size(), 1e-30);
    cmp("  v", gv.data(), rv.data(), rv.size(), 1e-30);
    cmp("  dpos k", gk2.data(), rk.data(), rk.size(), 1e-30);
    cmp("  dpos v", gv2.data(), rv.data(), rv.size(), 1e-30);
    std::vector<uint16_t> kc16(kc.size(), 0x3c00), vc16(vc.size(), 0x3c00);
    auto rk16 = kc16, rv16 = vc16, gk16 = kc16, gv16 = vc16, gk16d = kc16, gv16d = vc16;
    SIM(kv_append_f16, A(rk16.data()), A(rv16.data()), A(k.data()), A(v.data()), s, hkv, hd, pos, ctx);
    GPU(kv_append_f16, A(gk16.data()), A(gv16.data()), A(k.data()), A(v.data()), s, hkv, hd, pos, ctx);
    GPU(kv_append_dpos_f16, A(gk16d.data()), A(gv16d.data()), A(k.data()), A(v.data()), s, hkv, hd, A(&p), ctx);
    snprintf(name, sizeof name, "kv_append_f16 %u %u %u at %d of %u", s, hkv, hd, pos, ctx);
    check_bits(name, gk16, rk16); check_bits("  v", gv16, rv16);
    check_bits("  dpos k", gk16d, rk16); check_bits("  dpos v", gv16d, rv16);
  }
  }
  // elementwise
  if (want("silu_mul add")) {
  for (uint32_t n : {11008u, 1003u, 3u}) {
    auto a = rnd(n, -8, 8), b = rnd(n, -2, 2); auto r = nanv(n), g = nanv(n);
    SIM(silu_mul, A(r.data()), A(a.data()), A(b.data()), n);
    GPU(silu_mul, A(g.data()), A(a.data()), A(b.data()), n);
    snprintf(name, sizeof name, "silu_mul %u", n); cmp(name, g.data(), r.data(), n);
    r = nanv(n); g = nanv(n);
    SIM(add, A(r.data()), A(a.data()), A(b.data()), n);
    GPU(add, A(g.data()), A(a.data()), A(b.data()), n);
    snprintf(name, sizeof name, "add %u", n); cmp(name, g.data(), r.data(), n);
  }
  }
  // argmax
  if (want("argmax")) {
  for (auto [rows, n] : {std::pair{3u, 32000u}, {2u, 1001u}, {1u, 1u}}) {
    auto x = rnd(rows * n, -10, 10);
    if (n > 10) { x[5] = 20; x[9] = 20; x[n + 3] = NAN; x[n + n / 2] = 30; }
    if (rows > 2) for (uint32_t i = 0; i < n; i++) x[2 * n + i] = NAN;
    std::vector<int32_t> r(rows, 7), g(rows, 7);
    SIM(argmax, A(r.data()), A(x.data()), rows, n);
    GPU(argmax, A(g.data()), A(x.data()), rows, n);
    bool ok = r == g; if (!ok) fails++;
    printf("%s argmax %ux%u: sim", ok ? "ok  " : "FAIL", rows, n);
    for (auto v : r) printf(" %d", v);
    printf(" emu");
    for (auto v : g) printf(" %d", v);
    printf("\n");
  }
  }
  printf("%d failures\n", fails);
  return fails != 0;
}
