/* redact_test.c: redact.c's selftest, built into rl_selftest only (not librayl). */
#include "renv/redact.c" /* the code under test, with its file-local helpers */

/* ---- selftest ---- */

#define S_CHECK(c) RL_CHECK_GOTO(c)

int rl_redact_selftest(void) {
  char out[128], tiny[12];
  S_CHECK(!strcmp(rl_renv_redact("working_dir=pkg_ab12\nenv:TOKEN=s3cret\nenv:B=x=y", out, sizeof out),
                  "working_dir=pkg_ab12; env:TOKEN=(hidden); env:B=(hidden)"));
  S_CHECK(!strstr(out, "s3cret") && !strstr(out, "x=y"));
  S_CHECK(!strcmp(rl_renv_redact("", out, sizeof out), ""));
  S_CHECK(!strcmp(rl_renv_redact("env:A=1\n\nenv:C=2\n", out, sizeof out), "env:A=(hidden); env:C=(hidden)"));
  /* cut short, never in the middle of a value */
  S_CHECK(!strcmp(rl_renv_redact("env:LONGNAME=secret", tiny, sizeof tiny), "") && !strstr(tiny, "secret"));
  return 0;
fail:
  return 1;
}
