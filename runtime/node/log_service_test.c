/* log_service_test.c: log_service.c's selftest, built into rl_selftest only (not librayl). */
#include "node/log_service.c" /* the code under test, with its file-local helpers */

/* ---- selftest: names ---- */

int rl_log_service_selftest(void) {
  RL_CHECK_RETURN(rl_log_name_ok("worker-123.out") && rl_log_name_ok("gcs.log") && rl_log_name_ok("job_a.B-1"));
  RL_CHECK_RETURN(!rl_log_name_ok("") && !rl_log_name_ok(".hidden") && !rl_log_name_ok("../gcs.log"));
  RL_CHECK_RETURN(!rl_log_name_ok("a/b") && !rl_log_name_ok("a b") && !rl_log_name_ok("a\nb"));
  char longname[202];
  memset(longname, 'a', 201);
  longname[201] = 0;
  RL_CHECK_RETURN(!rl_log_name_ok(longname));
  longname[200] = 0;
  RL_CHECK_RETURN(rl_log_name_ok(longname));
  return 0;
}
