/* selftest_main.c: runs the C selftests (one per runtime file), by name or all. */
#include <stdio.h>
#include <string.h>
#include "selftests.inc"

int main(int argc, char **argv) {
  int failed = 0, ran = 0;
  for (int i = 0; s_selftests[i].name; i++) {
    if (argc > 1 && strcmp(argv[1], s_selftests[i].name) != 0) continue;
    printf(" * %s: ", s_selftests[i].name);
    fflush(stdout);
    int rc = s_selftests[i].fn();
    printf("%s\n", rc == 0 ? "OK" : "FAILED");
    failed += rc != 0;
    ran++;
  }
  if (ran == 0) {
    fprintf(stderr, "rl_selftest: no selftest named '%s'\n", argc > 1 ? argv[1] : "");
    return 2;
  }
  return failed ? 1 : 0;
}
