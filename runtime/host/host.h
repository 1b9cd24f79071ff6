/* host.h: the process-wide LuaJIT host state: the one core worker of this process and
 * the Lua helpers around it (ObjectRefs, errors, the standard environment). */
#ifndef RL_HOST_H
#define RL_HOST_H
#include <lua.h>
#include <stdbool.h>

#include "host/array.h"
#include "host/codec.h"
#include "wire/msg.h"
#include "worker/core_worker.h"
#include "worker/local_cluster.h"

typedef struct {
  rl_cw_t *cw;                  /* NULL until init (driver) or start-up (worker) */
  rl_local_cluster_t *cluster;  /* the private cluster this driver started, if any */
  lua_State *L;                 /* the state that owns cw */
  int error_mt_ref;             /* registry ref of the rayl.Error metatable, or LUA_NOREF */
  double task_cpus;             /* workers: the CPUs the running task (or actor) holds */
  bool threads_auto;            /* workers: math thread pools follow task_cpus (the user
                                   set no OMP_NUM_THREADS / OPENBLAS_NUM_THREADS) */
} rl_host_t;

/* Registry key of a Lua function(cpus) called in a worker when a task holding a
 * different number of CPUs than the last one starts (rayl.torch resizes its pools). */
#define RL_TASK_CPUS_HOOK "rayl.task_cpus_hook"

extern rl_host_t rl_host;

/* Opens the standard libraries, puts rayl's Lua folders first on package.path, and
 * makes require "rayl.core" load the built-in module. */
void rl_host_open_libs(lua_State *L);

/* ObjectRefs (objref.c). Pushes a new ObjectRef userdata and counts one local
 * reference with the core worker. */
void rl_objref_push(lua_State *L, const rl_id_t *id, const char *owner);
/* The ObjectRef at idx, or NULL if it is not one. */
rl_objref_t *rl_objref_test(lua_State *L, int idx);
/* Registers the ObjectRef metatable; leaves nothing on the stack. */
void rl_objref_open(lua_State *L);
/* Codec hooks that count refs found while encoding (into a growing list) and create
 * ObjectRefs when decoding. */
typedef struct {
  rl_id_t *ids;
  char (*owners)[RL_ENDPOINT_MAX];
  size_t n, cap;
} rl_reflist_t;
rl_codec_hooks_t rl_objref_hooks(rl_reflist_t *collect);
void rl_reflist_free(rl_reflist_t *l);

/* l_common.c: for the rayl.core bindings. The core worker, or raises "rayl is not
 * initialized". */
rl_cw_t *rl_host_cw(lua_State *L);
/* The id (hex string) at idx, or raises an argument error saying it is not `what`. */
rl_id_t rl_host_check_id(lua_State *L, int idx, const char *what);
/* The timeout in seconds at idx as milliseconds for the core worker: -1 for nil (no
 * limit); raises a ValueError naming `what` for NaN or a negative number. */
int rl_host_check_timeout_ms(lua_State *L, int idx, const char *what);
/* Reads the table {name = amount} at idx (anything else: no resources) into res;
 * raises a ValueError naming `what` (e.g. "bundle 2") for a bad entry. */
void rl_host_read_resources(lua_State *L, int idx, const char *what, rl_resources_t *res);
/* Reads the scheduling strategy at idx (lua/rayl: nil for the default, or {kind =
 * "SPREAD" | "NODE" | "PG", node_id = hex, soft = bool, pg_id = hex, bundle = index
 * from 0, -1: any}) into out; raises for a malformed one. */
void rl_host_read_sched(lua_State *L, int idx, rl_wire_sched_t *out);
/* Pushes a resource map as a table {name = amount}. */
void rl_host_push_resources(lua_State *L, const rl_resources_t *r);
/* Set t[k] on the table at the top: an id as hex, a string of n bytes, a number. */
void rl_host_setfield_id(lua_State *L, const char *k, const rl_id_t *id);
void rl_host_setfield_str(lua_State *L, const char *k, const char *p, size_t n);
void rl_host_setfield_num(lua_State *L, const char *k, double v);

/* Pushes a rayl error table {type=, message=} with the rayl.Error metatable (a plain
 * table if the Lua module has not registered it yet). */
void rl_host_push_error(lua_State *L, const char *type, const char *message);
/* Raises a rayl error; never returns. */
int rl_host_raise(lua_State *L, const char *type, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The error encoder handed to the core worker: plain C (it also runs on its I/O thread). */
void *rl_host_encode_error(void *ctx, const char *type, const char *message, size_t *len);

/* Decodes a value from the core worker and pushes it; a value pinned in the store is
 * decoded in place and kept pinned while array views of it live. Returns 0, or -1 with
 * an error message pushed. Releases v when nothing holds it. */
int rl_host_push_value(lua_State *L, rl_cw_value_t *v);

/* Adds the actor and KV functions to the rayl.core table at the top of the stack. */
void rl_l_actor_open(lua_State *L);
/* Adds the job and runtime_env functions (l_renv.c) to the rayl.core table at the top
 * of the stack. */
void rl_l_renv_open(lua_State *L);
/* Adds the placement group functions to the rayl.core table at the top of the stack. */
void rl_l_pg_open(lua_State *L);
/* Adds the state API's state_list to it (l_state.c). */
void rl_l_state_open(lua_State *L);
/* l_obs.c: rayl.core.obs_* (rayl stack, memory, timeline, logs). */
void rl_l_obs_open(lua_State *L);
/* where.c: answers `rayl stack` for cw from the Lua thread of L (call on that thread). */
void rl_where_install(lua_State *L, rl_cw_t *cw);
/* where.c: the interned "file:line" of the first caller outside rayl's own modules, or
 * NULL (not found, or recording is off: it is on with RAYL_RECORD_REF_CREATION_SITES=1). */
const char *rl_where_call_site(lua_State *L);

/* l_cuda.c: the rayl.cuda bindings (core.cuda) added to the rayl.core table at the top
 * of the stack. */
void rl_l_cuda_open(lua_State *L);
/* Whether the value at idx is a rayl.cuda device buffer. */
bool rl_cuda_buffer_test(lua_State *L, int idx);
/* Copies the device buffer at idx to host memory: out->data (malloc'd, the caller's),
 * out->n, out->dtype. Returns 0, or -1 with err ("rayl.cuda buffer (copying it from the
 * GPU failed: ...)"). Never raises. */
int rl_cuda_buffer_copy_out(lua_State *L, int idx, rl_array_t *out, char *err, size_t errlen);

/* Task arguments encoded from the Lua stack: ObjectRefs stay refs (resolved before the
 * task runs), other values are encoded (refs nested in them are listed). */
typedef struct {
  int n;
  rl_task_arg_t *args;
  rl_encoded_t **encs;
  rl_reflist_t *refs;
  char *flat;
} rl_host_args_t;
/* Encodes the n values from stack index first. Returns 0, or -1 with err naming the
 * value that cannot travel ("argument 2 ..."). Free a with rl_host_args_free either way. */
int rl_host_args_encode(lua_State *L, int first, int n, rl_host_args_t *a, char *err, size_t errlen);
void rl_host_args_free(rl_host_args_t *a);
/* Pushes the n new refs in ids (each already counted once for the caller; their call
 * site recorded when RAYL_RECORD_REF_CREATION_SITES=1) and returns
 * n, or raises with err if rc != 0: OutOfMemoryError for RL_ENOMEM (common/result.h),
 * else ValueError; ids NULL (no memory for them) is an OutOfMemoryError too. Frees ids
 * unless it is ids_stack. */
int rl_host_push_refs(lua_State *L, rl_id_t *ids, rl_id_t *ids_stack, int n, int rc, const char *err);

#endif
