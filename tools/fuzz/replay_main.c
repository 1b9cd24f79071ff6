/* replay_main.c: runs a libFuzzer harness once on each file of the given folders (or the
 * given files), without libFuzzer: how the ordinary builds (gcc, ASan/UBSan) replay the
 * seed corpus and the inputs of past crashes as ctest tests. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Runs the harness on the file at path. Returns 0, or -1 if it cannot be read. */
static int s_run_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return -1;
  size_t cap = 4096, n = 0, got;
  uint8_t *buf = malloc(cap);
  while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
    n += got;
    if (n == cap) buf = realloc(buf, cap *= 2);
  }
  fclose(f);
  if (!buf) return -1;
  /* An exact-size copy, so ASan sees a read one byte past the input. */
  uint8_t *exact = malloc(n ? n : 1);
  memcpy(exact, buf, n);
  free(buf);
  LLVMFuzzerTestOneInput(exact, n);
  free(exact);
  return 0;
}

int main(int argc, char **argv) {
  int files = 0;
  for (int i = 1; i < argc; i++) {
    struct stat st;
    if (stat(argv[i], &st) != 0) {
      fprintf(stderr, "replay: no such file or folder: %s\n", argv[i]);
      return 2;
    }
    if (!S_ISDIR(st.st_mode)) {
      if (s_run_file(argv[i]) != 0) return fprintf(stderr, "replay: cannot read %s\n", argv[i]), 2;
      files++;
      continue;
    }
    struct dirent **names;
    int n = scandir(argv[i], &names, NULL, alphasort);
    for (int k = 0; k < n; k++) {
      char path[4096];
      snprintf(path, sizeof path, "%s/%s", argv[i], names[k]->d_name);
      if (names[k]->d_name[0] != '.' && stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
        if (s_run_file(path) != 0) return fprintf(stderr, "replay: cannot read %s\n", path), 2;
        files++;
      }
      free(names[k]);
    }
    free(names);
  }
  printf("replay: %d inputs, no crash\n", files);
  return files > 0 ? 0 : 1; /* an empty corpus proves nothing */
}
