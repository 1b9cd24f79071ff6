/* log_tail_test.c: log_tail.c's selftest, built into rl_selftest only (not librayl). */
#include "head/log_tail.c" /* the code under test, with its file-local helpers */

/* ---- selftest ---- */

/* The JSON of a tail of text (copied, as a file's end). */
static char *s_json(const char *text, bool partial, long lines, const char *search) {
  size_t n = strlen(text);
  char *buf = malloc(n + 1), *out;
  memcpy(buf, text, n + 1);
  rl_json_t j;
  rl_json_init(&j);
  rl_log_tail_json(&j, "x.log", 100, buf, n, partial, lines, search);
  free(buf);
  size_t len;
  out = rl_json_take(&j, &len);
  return out;
}

int rl_log_tail_selftest(void) {
  char *a = NULL;
  RL_CHECK_GOTO((a = s_json("one\ntwo\nthree\n", false, 2, NULL)));
  RL_CHECK_GOTO(!strcmp(a, "{\"name\":\"x.log\",\"size\":100,\"lines\":[\"two\",\"three\"]}"));
  free(a);
  RL_CHECK_GOTO((a = s_json("cut\nneedle 1\nhay\nneedle 2", true, 5, "needle"))); /* no final newline */
  RL_CHECK_GOTO(!strcmp(a, "{\"name\":\"x.log\",\"size\":100,\"lines\":[\"needle 1\",\"needle 2\"]}"));
  free(a);
  RL_CHECK_GOTO((a = s_json("needle cut\nhay\n", true, 5, "needle"))); /* the cut line is left out */
  RL_CHECK_GOTO(!strcmp(a, "{\"name\":\"x.log\",\"size\":100,\"lines\":[]}"));
  free(a);
  RL_CHECK_GOTO((a = s_json("", false, 5, NULL)));
  RL_CHECK_GOTO(!strcmp(a, "{\"name\":\"x.log\",\"size\":100,\"lines\":[]}"));
  free(a);
  return 0;
fail:
  if (a) fprintf(stderr, "got %s\n", a);
  free(a);
  return 1;
}
