/* fuzz_resources.c: libFuzzer harness for resource amounts from outside (sched/): maps
 * from the wire (rl_res_unpack), "name=amount" as `rayl start --resource` gives them
 * (rl_res_set), --num-gpus (rl_gpus_parse_count) and CUDA_VISIBLE_DEVICES lists
 * (rl_gpu_ids_parse). The first byte picks which; the rest is the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "sched/gpus.h"
#include "sched/resources.h"
#include "wire/msg.h"
#include "wire/res_pack.h"

/* Every map that was accepted packs, unpacks to itself, and adds and subtracts back. */
static void s_check_map(const rl_resources_t *m) {
  if (m->n < 0 || m->n > RL_RES_MAX) abort();
  for (int i = 0; i < m->n; i++)
    if (m->r[i].amount <= 0 || !memchr(m->r[i].name, 0, RL_RES_NAME)) abort();
  msgpack_sbuffer sb;
  msgpack_sbuffer_init(&sb);
  msgpack_packer pk;
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  rl_res_pack(&pk, m);
  msgpack_unpacked up;
  msgpack_unpacked_init(&up);
  rl_resources_t back;
  if (msgpack_unpack_next(&up, sb.data, sb.size, NULL) != MSGPACK_UNPACK_SUCCESS || rl_res_unpack(&up.data, &back) != 0 ||
      !rl_res_equal(m, &back))
    abort();
  msgpack_unpacked_destroy(&up);
  msgpack_sbuffer_destroy(&sb);
  rl_resources_t sum = *m;
  if (rl_res_add(&sum, m) == 0) {
    if (!rl_res_fits(&sum, m)) abort();
    rl_res_sub(&sum, m);
    if (!rl_res_equal(&sum, m)) abort();
  }
  char tiny[5], line[1024];
  rl_res_format(m, tiny, sizeof tiny);
  rl_res_format(m, line, sizeof line);
  if (strlen(tiny) >= sizeof tiny) abort();
  for (int i = 0; i < m->n; i++) {
    int64_t fixed = rl_res_fixed(m, m->r[i].name);
    rl_gpu_ask_t ask;
    char err[256];
    if (rl_gpus_ask(fixed, &ask, err, sizeof err) != 0 && !err[0]) abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static int started;
  if (!started) started = 1, rl_log_open("fuzz", "/dev/null");
  if (size < 1) return 0;
  const char *in = (const char *)data + 1;
  size_t n = size - 1;
  char *text = strndup(in, n); /* as the CLI hands them over: NUL-terminated text */
  char err[256] = "";
  rl_resources_t m;
  rl_res_clear(&m);
  switch (data[0] % 4) {
  case 0: { /* a map from the wire */
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    /* rl_msg_recv checks a body is plausible before msgpack-c unpacks it (msgpack-c
     * allocates what counts declare). */
    if (rl_msgpack_plausible(data + 1, n) && msgpack_unpack_next(&up, in, n, NULL) == MSGPACK_UNPACK_SUCCESS &&
        rl_res_unpack(&up.data, &m) == 0)
      s_check_map(&m);
    msgpack_unpacked_destroy(&up);
    break;
  }
  case 1: { /* name=amount,name=amount: each as rl_res_set takes it */
    for (char *save = NULL, *kv = strtok_r(text, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
      char *eq = strchr(kv, '=');
      if (!eq) continue;
      *eq = 0;
      err[0] = 0;
      if (rl_res_set(&m, kv, strtod(eq + 1, NULL), err, sizeof err) != 0 && !err[0]) abort();
    }
    s_check_map(&m);
    break;
  }
  case 2: {
    int count = -1;
    if (rl_gpus_parse_count(text, &count, err, sizeof err) == 0) {
      if (count < 0 || count > RL_GPU_MAX) abort();
    } else if (!err[0]) {
      abort();
    }
    break;
  }
  default: {
    int ids[4];
    int got = rl_gpu_ids_parse(text, ids, 4);
    if (got > 4 || got < -1) abort();
    break;
  }
  }
  free(text);
  return 0;
}
