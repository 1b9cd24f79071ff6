/* events_test.c: events.c's selftest, built into rl_selftest only (not librayl). */
#include "worker/events.c" /* the code under test, with its file-local helpers */

/* ---- selftest ---- */

#define S_CHECK(c) RL_CHECK_GOTO(c)

/* The error types read from encodings as the host writes them: a CLASS-tagged map
 * with a "type" field, a plain "Type: message" string, and junk. */
int rl_events_selftest(void) {
  msgpack_sbuffer sb;
  msgpack_packer pk;
  char type[32];
  msgpack_sbuffer_init(&sb);
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  msgpack_pack_ext(&pk, 10, 2);
  msgpack_pack_ext_body(&pk, "rayl.Error", 10);
  msgpack_pack_map(&pk, 2);
  rl_pack_str(&pk, "message");
  rl_pack_str(&pk, "boom");
  rl_pack_str(&pk, "type");
  rl_pack_str(&pk, "ActorDiedError");
  s_error_type(sb.data, sb.size, type, sizeof type);
  S_CHECK(!strcmp(type, "ActorDiedError"));
  msgpack_sbuffer_clear(&sb);
  rl_pack_str(&pk, "WorkerCrashedError: the worker died");
  s_error_type(sb.data, sb.size, type, sizeof type);
  S_CHECK(!strcmp(type, "WorkerCrashedError"));
  msgpack_sbuffer_clear(&sb);
  rl_pack_str(&pk, "no type here: at all");
  s_error_type(sb.data, sb.size, type, sizeof type);
  S_CHECK(!strcmp(type, "Error"));
  s_error_type("\xc1\xff", 2, type, sizeof type);
  S_CHECK(!strcmp(type, "Error"));
  msgpack_sbuffer_destroy(&sb);
  return 0;
fail:
  msgpack_sbuffer_destroy(&sb);
  return 1;
}
