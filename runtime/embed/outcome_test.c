/* outcome_test.c: outcome.c's selftest, built into rl_selftest only (not librayl). */
#include "embed/outcome.c" /* the code under test, with its file-local helpers */

/* ---- selftest ---- */

int rl_embed_outcome_selftest(void) {
  char *error = NULL, *tb = NULL;
  size_t len;
  /* What the core worker makes reads back as the same type and message. */
  void *data = rl_embed_encode_error(NULL, "TaskCancelledError", "it was cancelled", &len);
  RL_CHECK_GOTO(data && len > 12 && ((unsigned char *)data)[2] == S_CLASS_EXT);
  RL_CHECK_GOTO(rl_embed_decode_error(data, len, &error, &tb) == RAYL_E_CANCELLED);
  RL_CHECK_GOTO(!strcmp(error, "TaskCancelledError: it was cancelled") && tb == NULL);
  free(data);
  free(error);
  data = NULL;
  error = NULL;
  /* A Lua error table: other fields (of any kind) are skipped; missing means NOT_FOUND. */
  rayl_buf b;
  rayl_buf_init(&b);
  rayl_pack_map(&b, 5);
  rayl_pack_str(&b, "cause");
  rayl_pack_array(&b, 2);
  rayl_pack_int(&b, 1);
  rayl_pack_map(&b, 0);
  rayl_pack_str(&b, "type");
  rayl_pack_str(&b, "TaskError");
  rayl_pack_str(&b, "message");
  rayl_pack_str(&b, "module 'x' was not found");
  rayl_pack_str(&b, "traceback");
  rayl_pack_str(&b, "\nstack traceback:\n\tx.lua:1");
  rayl_pack_str(&b, "missing");
  rayl_pack_str(&b, "module");
  int code = rl_embed_decode_error(b.data, b.len, &error, &tb);
  rayl_buf_free(&b);
  RL_CHECK_GOTO(code == RAYL_E_NOT_FOUND && !strcmp(error, "TaskError: module 'x' was not found"));
  RL_CHECK_GOTO(tb && strstr(tb, "x.lua:1"));
  free(error);
  free(tb);
  error = tb = NULL;
  /* The plain-string form, and garbage, still give a message. */
  RL_CHECK_GOTO(rl_embed_decode_error("\xb8WorkerCrashedError: boom", 25, &error, &tb) == RAYL_E_SYSTEM);
  RL_CHECK_GOTO(!strcmp(error, "WorkerCrashedError: boom"));
  free(error);
  error = NULL;
  RL_CHECK_GOTO(rl_embed_decode_error("\xc1", 1, &error, &tb) == RAYL_E_TASK && strstr(error, "not a rayl error"));
  free(error);
  return 0;
fail:
  free(data);
  free(error);
  free(tb);
  return 1;
}
