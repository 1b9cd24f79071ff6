/* cuda_backend_test.c: cuda_backend.c's selftest, built into rl_selftest only (not librayl). */
#include "gpu/cuda_backend.c" /* the code under test, with its file-local helpers */

/* ---- selftest ---- */

#define S_CHECK(c) RL_CHECK_GOTO(c)

/* Images: packed and unpacked, damaged ones refused. Without a GPU every call says why
 * (no driver, the simulator), never crashes; with one, saxpy runs and its result is
 * checked. */
int rl_cuda_backend_selftest(void) {
  const rl_gpu_backend_t *b = rl_gpu_cuda_backend();
  char err[1024], *image = NULL, *log = NULL;
  size_t len = 0;
  rl_gpu_kernel_t *k = NULL;
  rl_gpu_ptr_t x = 0, y = 0;
  char cubin[] = "\177ELFcubin", ptx[] = ".version 9.0";
  rl_nvrtc_out_t o = {.ptx = ptx, .ptx_len = sizeof ptx, .cubin = cubin, .cubin_len = sizeof cubin - 1};
  const char *c, *p;
  size_t cl, pl;
  S_CHECK(s_pack(&o, &image, &len) == 0 && len == S_HDR + sizeof cubin - 1 + sizeof ptx);
  S_CHECK(s_unpack(image, len, &c, &cl, &p, &pl) == 0 && cl == sizeof cubin - 1 && strcmp(p, ptx) == 0);
  S_CHECK(memcmp(c, cubin, cl) == 0);
  S_CHECK(s_unpack(image, len - 1, &c, &cl, &p, &pl) == -1); /* truncated */
  image[len - 1] = 'x';
  S_CHECK(s_unpack(image, len, &c, &cl, &p, &pl) == -1); /* PTX not terminated */
  S_CHECK(s_unpack("RLCUBIN1", 8, &c, &cl, &p, &pl) == -1);
  free(image);
  image = NULL;
  S_CHECK(strcmp(b->mode, "gpu") == 0);
  if (!b->available(err, sizeof err)) {
    fprintf(stderr, "cuda_backend selftest: no GPU here (%s)\n", err);
    S_CHECK(strstr(err, "RAYL_CUDA=sim") || strstr(err, "NVRTC"));
    S_CHECK(b->device_count() == 0 && b->arch() == NULL);
    S_CHECK(b->compile("x", "x", NULL, 0, &image, &len, &log, err, sizeof err) == -1 && !image && !log);
    S_CHECK(b->alloc(16, &x, err, sizeof err) == -1 && strstr(err, "CUDA"));
    S_CHECK(b->synchronize(err, sizeof err) == -1);
    b->free(0);
    return 0;
  }
  const char *src = "extern \"C\" __global__ void saxpy(int n, float a, const float *x, float *y) {\n"
                    "  int i = blockIdx.x * blockDim.x + threadIdx.x;\n"
                    "  if (i < n) y[i] = a * x[i] + y[i];\n"
                    "}\n";
  int n = 1000;
  float a = 2, hx[1000], hy[1000];
  for (int i = 0; i < n; i++) hx[i] = (float)i, hy[i] = 1;
  S_CHECK(b->compile(src, "saxpy", NULL, 0, &image, &len, &log, err, sizeof err) == 0);
  S_CHECK((k = b->load(image, len, "saxpy", err, sizeof err)) != NULL);
  S_CHECK(b->load(image, len, "nosuch", err, sizeof err) == NULL && strstr(err, "extern \"C\""));
  S_CHECK(b->alloc(sizeof hx, &x, err, sizeof err) == 0 && b->alloc(sizeof hy, &y, err, sizeof err) == 0);
  S_CHECK(b->copy_in(x, hx, sizeof hx, err, sizeof err) == 0 && b->copy_in(y, hy, sizeof hy, err, sizeof err) == 0);
  void *args[] = {&n, &a, &x, &y};
  rl_gpu_launch_t l = {{4, 1, 1}, {256, 1, 1}, 0, NULL, args, 4};
  S_CHECK(b->launch(k, &l, err, sizeof err) == 0 && b->synchronize(err, sizeof err) == 0);
  S_CHECK(b->copy_out(hy, y, sizeof hy, err, sizeof err) == 0);
  for (int i = 0; i < n; i++) S_CHECK(hy[i] == 2.0f * (float)i + 1);
  l.block[0] = 4096;
  S_CHECK(b->launch(k, &l, err, sizeof err) == -1 && strstr(err, "block.x = 4096"));
  S_CHECK(b->fill(y, 0, sizeof hy, err, sizeof err) == 0 && b->copy_out(hy, y, sizeof hy, err, sizeof err) == 0);
  S_CHECK(hy[0] == 0 && hy[n - 1] == 0);
  b->free(x);
  b->free(y);
  b->unload(k);
  free(image);
  return 0;
fail:
  if (x) b->free(x);
  if (y) b->free(y);
  b->unload(k);
  free(image);
  free(log);
  return 1;
}
