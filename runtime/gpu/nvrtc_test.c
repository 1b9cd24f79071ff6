/* nvrtc_test.c: nvrtc.c's selftest, built into rl_selftest only (not librayl). */
#include "gpu/nvrtc.c" /* the code under test, with its file-local helpers */

/* ---- selftest ---- */

#define S_CHECK(c) RL_CHECK_GOTO(c)

static const char s_saxpy[] = "extern \"C\" __global__ void saxpy(int n, float a, const float *x, float *y) {\n"
                              "  int i = blockIdx.x * blockDim.x + threadIdx.x;\n"
                              "  if (i < n) y[i] = a * x[i] + y[i];\n"
                              "}\n";

/* Runs ptxas on the PTX in ptx (written to a temporary file): 0 it accepts it, 1 it does
 * not, 2 there is no ptxas. */
static int s_ptxas(const char *ptx, size_t len, const char *arch) {
  const char *home = getenv("CUDA_HOME");
  char ptxas[PATH_MAX], file[] = "/tmp/rl_nvrtc_XXXXXX";
  snprintf(ptxas, sizeof ptxas, "%s/bin/ptxas", home && *home ? home : "/usr/local/cuda");
  if (access(ptxas, X_OK) != 0) return 2;
  int fd = mkstemp(file);
  if (fd < 0) return 1;
  bool ok = write(fd, ptx, len - 1) == (ssize_t)(len - 1);
  close(fd);
  int status = -1;
  pid_t pid = ok ? fork() : -1;
  if (pid == 0) {
    execl(ptxas, "ptxas", "-arch", arch, file, "-o", "/dev/null", (char *)NULL);
    _exit(127);
  }
  if (pid > 0) waitpid(pid, &status, 0);
  unlink(file);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}

int rl_nvrtc_selftest(void) {
  char err[1024], arch[32];
  char *log = NULL;
  rl_nvrtc_out_t o = {0};
  if (rl_nvrtc_load(err, sizeof err) != 0) {
    fprintf(stderr, "nvrtc selftest skipped: %s\n", err);
    S_CHECK(strstr(err, "install the CUDA toolkit"));
    return 0;
  }
  S_CHECK(strncmp(rl_nvrtc_version(), "nvrtc ", 6) == 0);
  /* The target: the device's own sm_XY when supported, else the newest compute_XY below. */
  S_CHECK(rl_nvrtc_target(90, arch, sizeof arch, err, sizeof err) == 0 && strcmp(arch, "sm_90") == 0);
  S_CHECK(rl_nvrtc_target(999, arch, sizeof arch, err, sizeof err) == 0 && strncmp(arch, "compute_", 8) == 0);
  S_CHECK(rl_nvrtc_target(10, arch, sizeof arch, err, sizeof err) == -1 && strstr(err, "compute capability 1.0"));
  /* PTX only for compute_90; ptxas accepts it. */
  unsigned long before = rl_nvrtc_compiles();
  S_CHECK(rl_nvrtc_compile(s_saxpy, "saxpy", NULL, 0, "compute_90", &o, &log, err, sizeof err) == 0);
  S_CHECK(rl_nvrtc_compiles() == before + 1);
  S_CHECK(o.ptx && o.ptx_len > 100 && o.ptx[o.ptx_len - 1] == 0 && strstr(o.ptx, ".entry saxpy") && !o.cubin);
  int px = s_ptxas(o.ptx, o.ptx_len, "sm_90");
  if (px == 2) fprintf(stderr, "nvrtc selftest: ptxas not found, its check skipped\n");
  S_CHECK(px != 1);
  rl_nvrtc_out_free(&o);
  /* A cubin (an ELF file) for sm_90, with the user's options and a header from the toolkit. */
  const char *opts[] = {"--use_fast_math"};
  char src[1024];
  snprintf(src, sizeof src, "#include <cuda_fp16.h>\n%s", s_saxpy);
  S_CHECK(rl_nvrtc_compile(src, "saxpy", opts, 1, "sm_90", &o, &log, err, sizeof err) == 0);
  S_CHECK(o.cubin && o.cubin_len > 100 && memcmp(o.cubin, "\177ELF", 4) == 0);
  rl_nvrtc_out_free(&o);
  /* A compile error: -1 and NVRTC's log naming the file and line. */
  S_CHECK(rl_nvrtc_compile("extern \"C\" __global__ void bad(int n) {\n  undefined_thing(n);\n}\n", "bad", NULL, 0,
                           "sm_90", &o, &log, err, sizeof err) == -1);
  S_CHECK(log && strstr(log, "bad.cu(2)") && strstr(log, "undefined_thing"));
  S_CHECK(strstr(err, "could not compile bad.cu") && !o.ptx && !o.cubin);
  free(log);
  log = NULL;
  /* A bad option is a compile failure with a message, not a crash. */
  const char *badopt[] = {"--no-such-option"};
  S_CHECK(rl_nvrtc_compile(s_saxpy, "saxpy", badopt, 1, "sm_90", &o, &log, err, sizeof err) == -1);
  free(log);
  return 0;
fail:
  free(log);
  rl_nvrtc_out_free(&o);
  return 1;
}
