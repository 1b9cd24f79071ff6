/* units_test.c: units.c's selftest, built into rl_selftest only (not librayl). */
#include "common/units.c" /* the code under test, with its file-local helpers */

/* ---- selftest ---- */

int rl_units_selftest(void) {
  char b[32];
  int fails = 0;
  RL_CHECK_COUNT(!strcmp(rl_units_bytes(17693336371.0, b, sizeof b), "16.48GiB"), fails);
  RL_CHECK_COUNT(!strcmp(rl_units_bytes(512, b, sizeof b), "512B"), fails);
  RL_CHECK_COUNT(!strcmp(rl_units_bytes(1536, b, sizeof b), "1.50KiB"), fails);
  RL_CHECK_COUNT(!strcmp(rl_units_bytes(-3, b, sizeof b), "0B"), fails);
  RL_CHECK_COUNT(!strcmp(rl_units_duration(0.85, b, sizeof b), "850ms"), fails);
  RL_CHECK_COUNT(!strcmp(rl_units_duration(12.34, b, sizeof b), "12.3s"), fails);
  RL_CHECK_COUNT(!strcmp(rl_units_duration(245, b, sizeof b), "4m05s"), fails);
  RL_CHECK_COUNT(!strcmp(rl_units_duration(7380, b, sizeof b), "2h03m"), fails);
  RL_CHECK_COUNT(!strcmp(rl_units_duration(273600, b, sizeof b), "3d04h"), fails);
  char small[4];
  RL_CHECK_COUNT(strlen(rl_units_bytes(17693336371.0, small, sizeof small)) == 3, fails);
  return fails ? 1 : 0;
}
