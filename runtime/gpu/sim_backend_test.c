/* sim_backend_test.c: sim_backend.c's selftest, built into rl_selftest only (not librayl). */
#include "gpu/sim_backend.c" /* the code under test, with its file-local helpers */

/* ---- selftest ---- */
#include <time.h>

#include "common/selftest.h"

static const char s_test_src[] =
    "extern \"C\" __global__ void saxpy(int n, float a, const float *x, float *y) {\n"
    "  int i = blockIdx.x * blockDim.x + threadIdx.x;\n"
    "  if (i < n) y[i] = a * x[i] + y[i];\n"
    "}\n"
    "extern \"C\" __global__ void block_sum(const int *in, int *out, int n) {\n"
    "  __shared__ int s[256];\n"
    "  unsigned t = threadIdx.x, i = blockIdx.x * blockDim.x + t;\n"
    "  s[t] = i < (unsigned)n ? in[i] : 0;\n"
    "  __syncthreads();\n"
    "  for (unsigned k = blockDim.x / 2; k > 0; k >>= 1) {\n"
    "    if (t < k) s[t] += s[t + k];\n"
    "    __syncthreads();\n"
    "  }\n"
    "  int votes = __syncthreads_count(s[0] > 0 && t < 3);\n"
    "  if (t == 0) { out[blockIdx.x] = s[0]; out[gridDim.x + blockIdx.x] = votes; }\n"
    "}\n"
    "extern \"C\" __global__ void histogram(const unsigned *v, int n, unsigned *bins, float *total) {\n"
    "  int i = blockIdx.x * blockDim.x + threadIdx.x;\n"
    "  if (i < n) { atomicAdd(&bins[v[i] % 16], 1u); atomicAdd(total, 0.5f); }\n"
    "}\n"
    "extern \"C\" __global__ void reverse(int *d) {\n"
    "  extern __shared__ int s[];\n"
    "  int t = threadIdx.x, i = blockIdx.x * blockDim.x + t;\n"
    "  s[t] = d[i];\n"
    "  __syncthreads();\n"
    "  d[i] = s[blockDim.x - 1 - t];\n"
    "}\n"
    "extern \"C\" __global__ void grid3d(unsigned *out) {\n"
    "  unsigned x = blockIdx.x * blockDim.x + threadIdx.x, y = blockIdx.y * blockDim.y + threadIdx.y;\n"
    "  unsigned z = blockIdx.z * blockDim.z + threadIdx.z, w = gridDim.x * blockDim.x, h = gridDim.y * blockDim.y;\n"
    "  out[(z * h + y) * w + x] = x + 1000 * y + 1000000 * z;\n"
    "}\n"
    "extern \"C\" __global__ void checked(const int *v, int n) {\n"
    "  int i = blockIdx.x * blockDim.x + threadIdx.x;\n"
    "  if (i < n) assert(v[i] >= 0);\n"
    "}\n";

static rl_gpu_kernel_t *s_test_kernel(const rl_gpu_backend_t *b, const char *src, const char *name, char **image,
                                      size_t *len) {
  char err[600] = "", *log = NULL, *img = NULL;
  size_t n = 0;
  rl_gpu_kernel_t *k = NULL;
  if (b->compile(src, name, NULL, 0, &img, &n, &log, err, sizeof err) == 0) k = b->load(img, n, name, err, sizeof err);
  if (!k) fprintf(stderr, "sim_backend: %s\n%s", err, log ? log : "");
  if (image) {
    *image = img;
    *len = n;
  } else {
    free(img);
  }
  free(log);
  return k;
}

/* Launches and reports: 0, or the error (err). */
static int s_test_launch(rl_gpu_kernel_t *k, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
                         unsigned bz, size_t shared, void **args, size_t nargs, char *err, size_t errlen) {
  rl_gpu_launch_t l = {{gx, gy, gz}, {bx, by, bz}, shared, NULL, args, nargs};
  err[0] = '\0';
  return rl_gpu_sim_backend()->launch(k, &l, err, errlen);
}

/* A compile that must fail: its message (err) and log. */
static int s_test_refused(const char *src, const char *name, const char *in_err, const char *in_log) {
  const rl_gpu_backend_t *b = rl_gpu_sim_backend();
  char err[600] = "", *log = NULL, *img = NULL;
  size_t n = 0;
  int rc = b->compile(src, name, NULL, 0, &img, &n, &log, err, sizeof err);
  int ok = rc == -1 && !img && strstr(err, in_err) && (!in_log || (log && strstr(log, in_log)));
  if (!ok) fprintf(stderr, "sim_backend: compile of %s: rc %d, err '%s', log:\n%s\n", name, rc, err, log ? log : "");
  free(log);
  free(img);
  return ok ? 0 : 1;
}

static double s_ms(clockid_t clock) {
  struct timespec ts;
  clock_gettime(clock, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Launches k 5 times; the best wall time and CPU time of one, in ms (the machine may be
 * shared: CPU time is the steadier figure). */
static void s_test_time(rl_gpu_kernel_t *k, unsigned blocks, void **args, size_t nargs, double *wall, double *cpu) {
  char err[400];
  *wall = *cpu = 1e9;
  for (int r = 0; r < 5; r++) {
    double w0 = s_ms(CLOCK_MONOTONIC), c0 = s_ms(CLOCK_THREAD_CPUTIME_ID);
    if (s_test_launch(k, blocks, 1, 1, 256, 1, 1, 0, args, nargs, err, sizeof err) != 0) return;
    double w = s_ms(CLOCK_MONOTONIC) - w0, c = s_ms(CLOCK_THREAD_CPUTIME_ID) - c0;
    *wall = w < *wall ? w : *wall;
    *cpu = c < *cpu ? c : *cpu;
  }
}

/* Prints how long 1M elements take on the plain loop (saxpy) and as fibers (block_sum). */
static void s_test_timing(rl_gpu_kernel_t *saxpy, rl_gpu_kernel_t *sum) {
  int n = 1 << 20;
  float a = 2.0f, *x = calloc((size_t)n, sizeof *x), *y = calloc((size_t)n, sizeof *y);
  int *out = calloc(2 * 4096, sizeof *out);
  double w1 = 0, c1 = 0, w2 = 0, c2 = 0;
  if (x && y && out) {
    void *sargs[] = {&n, &a, &x, &y}, *rargs[] = {&x, &out, &n}; /* x: zeros, read as ints */
    s_test_time(saxpy, (unsigned)n / 256, sargs, 4, &w1, &c1);
    s_test_time(sum, (unsigned)n / 256, rargs, 3, &w2, &c2);
  }
  printf(
      "[1M-element saxpy (4096 blocks of 256, plain loop): %.1f ms (%.1f ms CPU); "
      "1M-element block_sum (fibers, 10 barriers a thread): %.1f ms (%.1f ms CPU)] ",
      w1, c1, w2, c2);
  free(x);
  free(y);
  free(out);
}

/* Much of the prelude in one kernel (a template, launched by its C++ name). */
static const char s_test_features[] =
    "#include <cuda_runtime.h>\n"
    "#include <cassert>\n"
    "static_assert(alignof(float4) == 16 && sizeof(double2) == 16 && alignof(int2) == 8 && sizeof(float3) == 12, "
    "\"\");\n"
    "__constant__ float table[4] = {1.f, 2.f, 3.f, 4.f};\n"
    "__device__ int counter;\n"
    "namespace ns {\n"
    "template <class T> __device__ __forceinline__ T twice(T v) { return v * 2; }\n"
    "}\n"
    "template <class T>\n"
    "__global__ void __launch_bounds__(64) features(T *out, unsigned *u, unsigned long long *ull, double *d, int *iv) "
    "{\n"
    "  __shared__ __align__(16) T tile[64];\n"
    "  extern __shared__ __align__(16) unsigned char dyn[];\n"
    "  unsigned t = threadIdx.x;\n"
    "  tile[t] = ns::twice((T)t);\n"
    "  ((int *)dyn)[t] = (int)t;\n"
    "  __syncthreads();\n"
    "  int all = __syncthreads_and(tile[t] >= 0), any = __syncthreads_or(t == 5);\n"
    "  if (t == 0) {\n"
    "    float4 f = make_float4(1, 2, 3, 4);\n"
    "    int2 i2 = make_int2(3, 4);\n"
    "    dim3 g = gridDim;\n"
    "    out[0] = tile[63] + ((int *)dyn)[10];\n"
    "    out[1] = min(3u, 4) + max(2.5f, 1) + table[2];\n"
    "    out[2] = rsqrtf(4.0f) + __saturatef(2.0f) + __fdividef(1.0f, 4.0f);\n"
    "    out[3] = f.w + i2.y + g.x + blockDim.x + warpSize;\n"
    "    out[4] = __popc(0xF0u) + __clz(1) + __ffs(8) + __brev(1u) / 0x80000000u;\n"
    "    out[5] = all + 2 * any + __ldg(&table[3]);\n"
    "    out[6] = expf(0.f) + sqrtf(16.f) + fabsf(-1.f) + floorf(2.5f) + __expf(0.f);\n"
    "    out[7] = normcdff(0.0f) + umax(3u, 7u) + __umulhi(0x80000000u, 4u);\n"
    "    __threadfence();\n"
    "  }\n"
    "  atomicAdd(&u[0], 1u); atomicSub(&u[1], 1u); atomicMax(&u[2], t); atomicMin(&u[3], t);\n"
    "  atomicExch(&u[4], 7u); atomicCAS(&u[5], 0u, 9u); atomicInc(&u[6], 10u); atomicAnd(&u[7], ~1u);\n"
    "  atomicOr(&u[8], 1u << (t % 32)); atomicXor(&u[9], 1u); atomicAdd(ull, 2ull); atomicAdd(d, 0.25);\n"
    "  atomicMax(&iv[0], (int)t - 10); atomicMin(&iv[1], (int)t - 10); atomicAdd_block(&iv[2], 1);\n"
    "  atomicAdd(&counter, 1);\n"
    "  if (t == 63) __syncwarp();\n"
    "  (void)clock64();\n"
    "}\n";

/* Runs features<float> and checks what each part computed. Returns the failed checks. */
static int s_test_prelude(const rl_gpu_backend_t *b) {
  int failed = 0;
  char err[600] = "";
  rl_gpu_kernel_t *k = s_test_kernel(b, s_test_features, "features<float>", NULL, NULL);
  rl_gpu_ptr_t dout = 0, du = 0, dull = 0, dd = 0, div = 0;
  float out[8];
  unsigned u[10] = {0, 100, 0, 1000, 0, 0, 0, 0xFF, 0, 0};
  unsigned long long ull = 0;
  double d = 0;
  int iv[3] = {-100, 100, 0};
  RL_CHECK_GOTO(k && b->alloc(sizeof out, &dout, err, sizeof err) == 0 &&
                b->alloc(sizeof u, &du, err, sizeof err) == 0);
  RL_CHECK_GOTO(b->alloc(8, &dull, err, sizeof err) == 0 && b->alloc(8, &dd, err, sizeof err) == 0);
  RL_CHECK_GOTO(b->alloc(sizeof iv, &div, err, sizeof err) == 0 && b->copy_in(du, u, sizeof u, err, sizeof err) == 0);
  RL_CHECK_GOTO(b->copy_in(dull, &ull, 8, err, sizeof err) == 0 && b->copy_in(dd, &d, 8, err, sizeof err) == 0);
  RL_CHECK_GOTO(b->copy_in(div, iv, sizeof iv, err, sizeof err) == 0);
  void *args[] = {&dout, &du, &dull, &dd, &div};
  RL_CHECK_GOTO(s_test_launch(k, 1, 1, 1, 64, 1, 1, 256, args, 5, err, sizeof err) == 0);
  RL_CHECK_GOTO(b->copy_out(out, dout, sizeof out, err, sizeof err) == 0 &&
                b->copy_out(u, du, sizeof u, err, sizeof err) == 0);
  RL_CHECK_GOTO(b->copy_out(&ull, dull, 8, err, sizeof err) == 0 && b->copy_out(&d, dd, 8, err, sizeof err) == 0);
  RL_CHECK_GOTO(b->copy_out(iv, div, sizeof iv, err, sizeof err) == 0);
  static const float want[8] = {136, 8.5f, 1.75f, 105, 40, 7, 9, 9.5f};
  for (int i = 0; i < 8; i++)
    if (out[i] != want[i]) {
      fprintf(stderr, "sim_backend: features: out[%d] = %g, not %g\n", i, out[i], want[i]);
      failed++;
    }
  static const unsigned wu[10] = {64, 36, 63, 0, 7, 9, 9, 0xFE, 0xFFFFFFFFu, 0};
  RL_CHECK_COUNT(memcmp(u, wu, sizeof u) == 0, failed);
  RL_CHECK_COUNT(ull == 128 && d == 16.0 && iv[0] == 53 && iv[1] == -10 && iv[2] == 64, failed);
  goto done;
fail:
  fprintf(stderr, "sim_backend: features: %s\n", err);
  failed++;
done:
  b->free(dout);
  b->free(du);
  b->free(dull);
  b->free(dd);
  b->free(div);
  b->unload(k);
  return failed;
}

int rl_sim_backend_selftest(void) {
  const rl_gpu_backend_t *b = rl_gpu_sim_backend();
  char why[400] = "", err[600] = "", *img = NULL;
  size_t imglen = 0;
  int failed = 0;
  enum { N = 1000 };
  rl_gpu_kernel_t *saxpy = NULL, *sum = NULL, *hist = NULL, *rev = NULL, *g3 = NULL, *chk = NULL;
  RL_CHECK_RETURN(strcmp(b->mode, "sim") == 0 && b->device_count() == 1);
  if (!b->available(why, sizeof why)) {
    fprintf(stderr, "sim_backend: the simulator is not available: %s\n", why);
    return 1;
  }
  RL_CHECK_RETURN(b->arch() && strncmp(b->arch(), "sim-", 4) == 0);
  RL_CHECK_GOTO((saxpy = s_test_kernel(b, s_test_src, "saxpy", &img, &imglen)));
  RL_CHECK_GOTO((sum = s_test_kernel(b, s_test_src, "block_sum", NULL, NULL)));
  RL_CHECK_GOTO((hist = s_test_kernel(b, s_test_src, "histogram", NULL, NULL)));
  RL_CHECK_GOTO((rev = s_test_kernel(b, s_test_src, "reverse", NULL, NULL)));
  RL_CHECK_GOTO((g3 = s_test_kernel(b, s_test_src, "grid3d", NULL, NULL)));
  RL_CHECK_GOTO((chk = s_test_kernel(b, s_test_src, "checked", NULL, NULL)));
  /* The loader sees what each kernel reaches, not what its source holds. */
  RL_CHECK_COUNT(saxpy->abi->flags == 0 && saxpy->abi->static_smem == 0, failed);
  RL_CHECK_COUNT(sum->abi->flags == RL_SIM_USES_SYNC && sum->abi->static_smem == 256 * sizeof(int), failed);
  RL_CHECK_COUNT(rev->abi->flags == RL_SIM_USES_SYNC && rev->abi->static_smem == 0, failed);
  RL_CHECK_COUNT(chk->abi->flags == RL_SIM_USES_TRAP, failed);
  /* An image loads once more (a second library from the same bytes), only by its name. */
  rl_gpu_kernel_t *again = b->load(img, imglen, "saxpy", err, sizeof err);
  RL_CHECK_COUNT(again != NULL, failed);
  b->unload(again);
  RL_CHECK_COUNT(!b->load(img, imglen, "histogram", err, sizeof err) && strstr(err, "holds kernel saxpy"), failed);
  RL_CHECK_COUNT(!b->load("\x7f"
                          "CUBIN",
                          6, "saxpy", err, sizeof err) &&
                     strstr(err, "not one the CPU simulator"),
                 failed);

  /* Device memory. */
  rl_gpu_ptr_t dx = 0, dy = 0;
  float hx[N], hy[N], want[N];
  for (int i = 0; i < N; i++) {
    hx[i] = (float)i * 0.5f;
    hy[i] = (float)(N - i);
    want[i] = 3.0f * hx[i] + hy[i];
  }
  RL_CHECK_GOTO(b->alloc(sizeof hx, &dx, err, sizeof err) == 0 && b->alloc(sizeof hy, &dy, err, sizeof err) == 0);
  RL_CHECK_GOTO(dx % 256 == 0 && b->copy_in(dx, hx, sizeof hx, err, sizeof err) == 0);
  RL_CHECK_GOTO(b->fill(dy, 0, sizeof hy, err, sizeof err) == 0 && b->copy_in(dy, hy, sizeof hy, err, sizeof err) == 0);
  rl_gpu_ptr_t none;
  RL_CHECK_COUNT(b->alloc(0, &none, err, sizeof err) == -1 && strstr(err, "at least 1"), failed);
  RL_CHECK_COUNT(b->copy_out(NULL, dx, 4, err, sizeof err) == -1 && strstr(err, "host pointer is NULL"), failed);

  /* saxpy: 4 blocks of 256, the last partly past n; equal to the C loop. */
  int n = N;
  float a = 3.0f;
  void *sargs[] = {&n, &a, &dx, &dy};
  RL_CHECK_GOTO(s_test_launch(saxpy, 4, 1, 1, 256, 1, 1, 0, sargs, 4, err, sizeof err) == 0);
  RL_CHECK_GOTO(b->copy_out(hy, dy, sizeof hy, err, sizeof err) == 0 && b->synchronize(err, sizeof err) == 0);
  RL_CHECK_COUNT(memcmp(hy, want, sizeof hy) == 0, failed);

  /* A block reduction in __shared__ memory with __syncthreads, and __syncthreads_count. */
  int in[N], out[8], wsum[4] = {0};
  for (int i = 0; i < N; i++) {
    in[i] = (i * 7) % 13 - (i < 768 ? 3 : 9);
    wsum[i / 256] += in[i];
  }
  rl_gpu_ptr_t din = 0, dout = 0;
  RL_CHECK_GOTO(b->alloc(sizeof in, &din, err, sizeof err) == 0 && b->alloc(sizeof out, &dout, err, sizeof err) == 0);
  RL_CHECK_GOTO(b->copy_in(din, in, sizeof in, err, sizeof err) == 0);
  void *rargs[] = {&din, &dout, &n};
  RL_CHECK_GOTO(s_test_launch(sum, 4, 1, 1, 256, 1, 1, 0, rargs, 3, err, sizeof err) == 0);
  RL_CHECK_GOTO(b->copy_out(out, dout, sizeof out, err, sizeof err) == 0);
  for (int i = 0; i < 4; i++) RL_CHECK_COUNT(out[i] == wsum[i] && out[4 + i] == (wsum[i] > 0 ? 3 : 0), failed);
  RL_CHECK_COUNT(wsum[0] > 0 && wsum[3] < 0, failed); /* both vote outcomes seen */

  /* An atomicAdd histogram (unsigned and float). */
  unsigned v[N], bins[16] = {0}, wbins[16] = {0};
  float total = 0;
  for (int i = 0; i < N; i++) wbins[(v[i] = (unsigned)i * 2654435761u) % 16]++;
  rl_gpu_ptr_t dv = 0, dbins = 0, dtotal = 0;
  RL_CHECK_GOTO(b->alloc(sizeof v, &dv, err, sizeof err) == 0 && b->alloc(sizeof bins, &dbins, err, sizeof err) == 0);
  RL_CHECK_GOTO(b->alloc(sizeof total, &dtotal, err, sizeof err) == 0);
  RL_CHECK_GOTO(b->copy_in(dv, v, sizeof v, err, sizeof err) == 0);
  RL_CHECK_GOTO(b->fill(dbins, 0, sizeof bins, err, sizeof err) == 0 && b->fill(dtotal, 0, 4, err, sizeof err) == 0);
  void *hargs[] = {&dv, &n, &dbins, &dtotal};
  RL_CHECK_GOTO(s_test_launch(hist, 8, 1, 1, 128, 1, 1, 0, hargs, 4, err, sizeof err) == 0);
  RL_CHECK_GOTO(b->copy_out(bins, dbins, sizeof bins, err, sizeof err) == 0);
  RL_CHECK_GOTO(b->copy_out(&total, dtotal, sizeof total, err, sizeof err) == 0);
  RL_CHECK_COUNT(memcmp(bins, wbins, sizeof bins) == 0 && total == 0.5f * N, failed);

  /* Dynamic shared memory (extern __shared__), sized by the launch: each block reversed. */
  int d[512];
  for (int i = 0; i < 512; i++) d[i] = i;
  RL_CHECK_GOTO(b->copy_in(din, d, sizeof d, err, sizeof err) == 0);
  void *dargs[] = {&din};
  RL_CHECK_GOTO(s_test_launch(rev, 4, 1, 1, 128, 1, 1, 128 * sizeof(int), dargs, 1, err, sizeof err) == 0);
  RL_CHECK_GOTO(b->copy_out(d, din, sizeof d, err, sizeof err) == 0);
  for (int i = 0; i < 512; i++) RL_CHECK_COUNT(d[i] == i / 128 * 128 + 127 - i % 128, failed);

  /* Three-dimensional grids and blocks. */
  unsigned g[2 * 4 * 3 * 2 * 2 * 2];
  rl_gpu_ptr_t dg = 0;
  RL_CHECK_GOTO(b->alloc(sizeof g, &dg, err, sizeof err) == 0);
  void *gargs[] = {&dg};
  RL_CHECK_GOTO(s_test_launch(g3, 2, 3, 2, 4, 2, 2, 0, gargs, 1, err, sizeof err) == 0);
  RL_CHECK_GOTO(b->copy_out(g, dg, sizeof g, err, sizeof err) == 0);
  for (unsigned z = 0; z < 4; z++)
    for (unsigned y = 0; y < 6; y++)
      for (unsigned x = 0; x < 8; x++) RL_CHECK_COUNT(g[(z * 6 + y) * 8 + x] == x + 1000 * y + 1000000 * z, failed);

  /* Launches CUDA would refuse, each named. */
  static const struct {
    unsigned gr[3], bl[3];
    size_t shared, nargs;
    const char *says;
  } bad[] = {
      {{4, 1, 1}, {2048, 1, 1}, 0, 4, "block.x = 2048 is out of range (1 to 1024)"},
      {{4, 1, 1}, {32, 32, 2}, 0, 4, "block (32, 32, 2) has 2048 threads; a block has at most 1024"},
      {{4, 1, 1}, {1, 1, 65}, 0, 4, "block.z = 65 is out of range (1 to 64)"},
      {{4, 1, 1}, {0, 1, 1}, 0, 4, "block.x = 0 is out of range"},
      {{1, 70000, 1}, {256, 1, 1}, 0, 4, "grid.y = 70000 is out of range (1 to 65535)"},
      {{4, 1, 1}, {256, 1, 1}, 64 * 1024, 4, "65536 of dynamic shared memory are more than the 49152 (48 KiB)"},
      {{4, 1, 1}, {256, 1, 1}, 0, 3, "kernel saxpy takes 4 arguments, not 3"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    int rc = s_test_launch(saxpy, bad[i].gr[0], bad[i].gr[1], bad[i].gr[2], bad[i].bl[0], bad[i].bl[1], bad[i].bl[2],
                           bad[i].shared, sargs, bad[i].nargs, err, sizeof err);
    if (rc != -1 || !strstr(err, bad[i].says)) {
      fprintf(stderr, "sim_backend: bad launch %zu: rc %d, '%s'\n", i, rc, err);
      failed++;
    }
  }
  RL_CHECK_COUNT(b->synchronize(err, sizeof err) == 0, failed);

  /* A failed assert ends the launch, names the thread, and is reported again by the next
   * synchronize (once); the kernel then runs again. */
  for (int i = 0; i < N; i++) in[i] = i == 300 ? -1 : i;
  RL_CHECK_GOTO(b->copy_in(din, in, sizeof in, err, sizeof err) == 0);
  void *cargs[] = {&din, &n};
  RL_CHECK_COUNT(s_test_launch(chk, 4, 1, 1, 256, 1, 1, 0, cargs, 2, err, sizeof err) == -1, failed);
  RL_CHECK_COUNT(strstr(err,
                        "kernel checked: assertion failed: v[i] >= 0 (kernel.cu:35), in block (1, 0, 0) thread "
                        "(44, 0, 0)") != NULL,
                 failed);
  RL_CHECK_COUNT(b->synchronize(err, sizeof err) == -1 && strstr(err, "thread (44, 0, 0)"), failed);
  RL_CHECK_COUNT(b->synchronize(err, sizeof err) == 0, failed);
  in[300] = 1;
  RL_CHECK_GOTO(b->copy_in(din, in, sizeof in, err, sizeof err) == 0);
  RL_CHECK_COUNT(s_test_launch(chk, 4, 1, 1, 256, 1, 1, 0, cargs, 2, err, sizeof err) == 0, failed);

  /* Compile errors and unsupported features, named with the kernel's line. */
  failed += s_test_refused("extern \"C\" __global__ void broken(float *x) {\n  x[0] = undefined_thing;\n}\n", "broken",
                           "kernel broken: compile error (", "kernel.cu:2:10: error: ");
  failed += s_test_refused("extern \"C\" __global__ void broken(float *x) {\n  x[0] = undefined_thing;\n}\n", "broken",
                           "kernel.cu:2:10: error: ", "undefined_thing");
  failed +=
      s_test_refused(s_test_src, "saxpyy", "kernel saxpyy: the source has no __global__ function named saxpyy", NULL);
  failed += s_test_refused(
      "extern \"C\" __global__ void w(float *x) {\n  float v = x[threadIdx.x];\n"
      "  x[0] = v + __shfl_down_sync(0xffffffffu, v, 16);\n}\n",
      "w", "does not support warp shuffles (__shfl_down_sync): run this kernel on a GPU (at kernel.cu:3",
      "__shfl_down_sync");
  failed += s_test_refused("#include <cooperative_groups.h>\nextern \"C\" __global__ void c(int *x) {}\n", "c",
                           "does not support cooperative groups (cooperative_groups.h)", NULL);
  failed += s_test_refused(
      "extern \"C\" __global__ void c(int *x) {}\nextern \"C\" __global__ void p(int *x) {\n"
      "  c<<<1, 1>>>(x);\n}\n",
      "p", "kernel p: line 3: rayl's CPU simulator does not support dynamic parallelism", "line 3");
  failed += s_test_refused(s_test_src, "a;b", "is not a C++ function name", NULL);

  failed += s_test_prelude(b);
  s_test_timing(saxpy, sum);
  b->free(dx);
  b->free(dy);
  b->free(din);
  b->free(dout);
  b->free(dv);
  b->free(dbins);
  b->free(dtotal);
  b->free(dg);
  goto done;
fail:
  fprintf(stderr, "sim_backend: %s\n", err);
  failed++;
done:
  b->unload(saxpy);
  b->unload(sum);
  b->unload(hist);
  b->unload(rev);
  b->unload(g3);
  b->unload(chk);
  free(img);
  return failed ? 1 : 0;
}
