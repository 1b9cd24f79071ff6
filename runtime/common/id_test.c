/* id_test.c: id.c's selftest, built into rl_selftest only (not librayl). */
#include "common/id.c" /* the code under test, with its file-local helpers */

/* ---- selftest ---- */

int rl_id_selftest(void) {
  rl_id_t w = rl_id_random();
  rl_id_t t = rl_id_for_task(w, 77);
  rl_id_t o = rl_id_for_object(t, 3);
  assert(rl_id_index(o) == 3);
  rl_id_t back = rl_id_task_of(o);
  assert(rl_id_eq(&back, &t));
  assert(memcmp(o.b, w.b, 8) == 0);
  char hex[RL_ID_HEX];
  rl_id_hex(&o, hex);
  assert(strlen(hex) == 32);
  rl_id_t parsed;
  assert(rl_id_parse(hex, &parsed) == 0 && rl_id_eq(&parsed, &o));
  assert(rl_id_parse("zz", &parsed) == -1);
  assert(rl_id_parse("0123456789abcdef0123456789abcdeg", &parsed) == -1);
  rl_id_t p = rl_id_for_object(t, RL_ID_PUT_INDEX);
  assert(rl_id_index(p) == RL_ID_PUT_INDEX);
  assert(rl_id_hash(&o) != rl_id_hash(&p));
  rl_id_t zero = {{0}};
  assert(rl_id_is_nil(&zero) && !rl_id_is_nil(&o));
  return 0;
}
