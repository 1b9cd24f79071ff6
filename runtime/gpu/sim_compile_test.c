/* sim_compile_test.c: sim_compile.c's selftest, built into rl_selftest only (not librayl). */
#include "gpu/sim_compile.c" /* the code under test, with its file-local helpers */

/* ---- selftest ---- */
#include "common/selftest.h"

static bool s_has_arg(const s_args_t *a, const char *s) {
  for (int i = 0; i < a->argc; i++)
    if (!strcmp(a->argv[i], s)) return true;
  return false;
}

int rl_sim_compile_selftest(void) {
  int failed = 0;
  char err[400] = "", cwd[PATH_MAX] = "", want[PATH_MAX + 8];
  s_cxx_t c;
  /* No compiler: the reason says what to install. */
  s_cxx_find(NULL, "/nonexistent-dir", &c);
  RL_CHECK_COUNT(!c.found && strstr(c.why, "install g++") && strstr(c.why, "CXX"), failed);
  s_cxx_find("no-such-compiler-here -O1", getenv("PATH"), &c);
  RL_CHECK_COUNT(!c.found && strstr(c.why, "CXX=no-such-compiler-here -O1") && strstr(c.why, "not a program"), failed);
  /* This machine has one (tools/setup installs g++): found, and named in the arch. */
  s_cxx_find(NULL, getenv("PATH"), &c);
  RL_CHECK_COUNT(c.found && c.argc == 1 && !strncmp(c.arch, "sim-", 4) && strcmp(c.shown, "c++") == 0, failed);
  s_cxx_t c2;
  s_cxx_find("c++ -Wno-unused", getenv("PATH"), &c2);
  RL_CHECK_COUNT(c2.found && c2.argc == 2 && strcmp(c2.arch, c.arch) != 0, failed);
  RL_CHECK_COUNT(rl_sim_cxx_available(NULL, 0) == c.found || getenv("CXX"), failed);

  /* Kernel names. */
  RL_CHECK_COUNT(s_name_ok("saxpy") && s_name_ok("ns::k<float, 4>") && s_name_ok("_k2"), failed);
  RL_CHECK_COUNT(!s_name_ok("") && !s_name_ok("a;b") && !s_name_ok("1k") && !s_name_ok("k\"x"), failed);

  /* NVRTC's options: definitions and paths passed on, code generation ignored. */
  s_args_t a;
  const char *opts[] = {
      "-DN=4", "--define-macro=M",    "--use_fast_math", "-arch=sm_90", "--gpu-architecture=compute_90",
      "-Iinc", "--include-path=/abs", "--std=c++14",     "-lineinfo",   "-UX"};
  RL_CHECK_COUNT(s_args_build(&a, &c, opts, sizeof opts / sizeof *opts, "k", err, sizeof err) == 0, failed);
  if (!getcwd(cwd, sizeof cwd)) cwd[0] = '\0';
  snprintf(want, sizeof want, "-I%s/inc", cwd);
  RL_CHECK_COUNT(s_has_arg(&a, "-DN=4") && s_has_arg(&a, "-DM") && s_has_arg(&a, want) && s_has_arg(&a, "-I/abs"),
                 failed);
  RL_CHECK_COUNT(s_has_arg(&a, "-std=c++17") && s_has_arg(&a, "-UX") && !s_has_arg(&a, "-arch=sm_90"), failed);
  RL_CHECK_COUNT(s_has_arg(&a, "-O2") && !strcmp(a.argv[a.argc - 1], S_OUTPUT) && a.argv[a.argc] == NULL, failed);
  s_args_free(&a);
  const char *bad[] = {"-DX", "--frobnicate"};
  RL_CHECK_COUNT(s_args_build(&a, &c, bad, 2, "k", err, sizeof err) == -1, failed);
  RL_CHECK_COUNT(strstr(err, "kernel k") && strstr(err, "'--frobnicate'"), failed);
  s_args_free(&a);

  /* A compile error's summary: the first error line; an unsupported feature: its message
   * and where the kernel used it. */
  s_summary("kernel.cu: In function 'void k()':\nkernel.cu:2:3: error: 'y' was not declared\n  2 | y;\n", "k", "g++", 1,
            err, sizeof err);
  RL_CHECK_COUNT(!strcmp(err, "kernel k: compile error (g++): kernel.cu:2:3: error: 'y' was not declared"), failed);
  s_summary(
      "./rl_sim_prelude.h: In instantiation of 'int __shfl_sync(A ...)':\nkernel.cu:3:24:   required from "
      "here\n./rl_sim_prelude.h:375:46: error: static assertion failed: rayl's CPU simulator does not support "
      "warp shuffles (__shfl_sync): run this kernel on a GPU\n",
      "k", "g++", 1, err, sizeof err);
  RL_CHECK_COUNT(!strcmp(err,
                         "kernel k: rayl's CPU simulator does not support warp shuffles (__shfl_sync): run this "
                         "kernel on a GPU (at kernel.cu:3:24)"),
                 failed);
  s_summary(
      "In file included from <built-in>:1:\n./rl_sim_prelude.h:396:1: error: static_assert failed due to "
      "requirement 'x' \"rayl's CPU simulator does not support warp votes (__any_sync): run this kernel on a "
      "GPU\"\nkernel.cu:3:14: note: in instantiation of function template\n",
      "k", "clang++", 1, err, sizeof err);
  RL_CHECK_COUNT(!strcmp(err,
                         "kernel k: rayl's CPU simulator does not support warp votes (__any_sync): run this "
                         "kernel on a GPU (at kernel.cu:3:14)"),
                 failed);
  s_summary(
      "In file included from kernel.cu:1:\n./mma.h:1:2: error: #error \"rayl's CPU simulator does not support "
      "tensor core operations (wmma) (mma.h): run this kernel on a GPU\"\n",
      "k", "g++", 1, err, sizeof err);
  RL_CHECK_COUNT(strstr(err, "(wmma) (mma.h): run this kernel on a GPU (at kernel.cu:1)"), failed);
  s_summary("rayl-sim-entry:1:41: error: 'kk' was not declared in this scope; did you mean 'k'?\n", "kk", "g++", 1, err,
            sizeof err);
  RL_CHECK_COUNT(strstr(err, "kernel kk: the source has no __global__ function named kk (g++: rayl-sim-entry:1:41: "),
                 failed);
  s_summary("", "k", "g++", 139, err, sizeof err);
  RL_CHECK_COUNT(strstr(err, "exit status 139"), failed);
  if (failed) fprintf(stderr, "sim_compile: %d checks failed (last: %s)\n", failed, err);
  return failed ? 1 : 0;
}
