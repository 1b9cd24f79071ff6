/* dashboard_test.c: dashboard.c's selftest, built into rl_selftest only (not librayl). */
#include "head/dashboard.c" /* the code under test, with its file-local helpers */

/* ---- selftest: the token ---- */

#define S_CHECK(c) RL_CHECK_GOTO(c)

int rl_dashboard_selftest(void) {
  char a[RL_DASHBOARD_TOKEN_LEN + 1], b[RL_DASHBOARD_TOKEN_LEN + 1], err[200];
  bool held = rl_net_key_held();
  S_CHECK(!held); /* the selftest process holds no key */
  rl_dashboard_token(a);
  rl_dashboard_token(b);
  S_CHECK(strlen(a) == RL_DASHBOARD_TOKEN_LEN && strcmp(a, b)); /* random without a key */
  S_CHECK(rl_net_key_generate(err, sizeof err) == 0);
  rl_dashboard_token(a);
  rl_dashboard_token(b);
  S_CHECK(!strcmp(a, b)); /* derived from the key: the same each time */
  rl_net_key_forget();
  return 0;
fail:
  rl_net_key_forget();
  return 1;
}
