/* driver_lib_test.c: driver_lib.c's selftest, built into rl_selftest only (not librayl). */
#include <stdio.h>
#include <string.h>

#include "common/selftest.h"
#include "gpu/driver_lib.h"

#define S_CHECK(c) RL_CHECK_RETURN(c)

typedef struct {
  size_t (*strlen_fn)(const char *s);
  int (*init)(unsigned flags);
} s_table_t;

/* A missing library, a library without the asked-for function, and one that has it
 * (the C library stands in for a driver: the loader does not care what it opens). */
int rl_cuda_driver_lib_selftest(void) {
  char err[300];
  s_table_t t;
  memset(&t, 0, sizeof t);
  const rl_cu_sym_t has[] = {RL_CU_SYM(s_table_t, strlen_fn, "strlen")};
  const rl_cu_sym_t lacks[] = {RL_CU_SYM(s_table_t, strlen_fn, "strlen"), RL_CU_SYM(s_table_t, init, "cuInit")};
  S_CHECK(rl_cu_lib_open("/nonexistent/libcuda.so.1", has, 1, &t, err, sizeof err) == NULL);
  S_CHECK(!strcmp(err, "no CUDA driver: /nonexistent/libcuda.so.1 not found"));
  S_CHECK(rl_cu_lib_open("libc.so.6", lacks, 2, &t, err, sizeof err) == NULL);
  S_CHECK(strstr(err, "no CUDA driver: libc.so.6 has no cuInit: it is too old for rayl") != NULL);
  void *h = rl_cu_lib_open("libc.so.6", has, 1, &t, err, sizeof err);
  S_CHECK(h != NULL && t.strlen_fn && t.strlen_fn("rayl") == 4);
  rl_cu_lib_close(&h);
  S_CHECK(h == NULL);
  rl_cu_lib_close(&h); /* safe twice */
  return 0;
}
