/* seeds.h: how a harness writes its seed corpus (RL_FUZZ_SEEDS=<folder> at start-up): one
 * file per message, named <name>.bin. */
#ifndef RL_FUZZ_SEEDS_H
#define RL_FUZZ_SEEDS_H
#include <stdio.h>
#include <stdlib.h>

/* Writes n bytes at p to $RL_FUZZ_SEEDS/<name>.bin; exits if the file cannot be written. */
static inline void rl_fuzz_seed(const char *name, const void *p, size_t n) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s.bin", getenv("RL_FUZZ_SEEDS"), name);
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
    fprintf(stderr, "cannot write the seed %s\n", path);
    exit(1);
  }
}

#endif
