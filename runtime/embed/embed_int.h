/* embed_int.h: internals shared by the files behind include/rayl.h (the C API). */
#ifndef RL_EMBED_INT_H
#define RL_EMBED_INT_H
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/id.h"
#include "common/idmap.h"
#include "rayl.h"
#include "worker/core_worker.h"
#include "worker/local_cluster.h"

/* The msgpack ext type rayl_pack_handle writes; submission turns it into a ref
 * argument, so it never reaches a worker. */
#define RL_EMBED_EXT_HANDLE 100
/* Deepest nesting of arrays and maps accepted in arguments (the workers' decoder
 * refuses deeper values). */
#define RL_EMBED_MAX_DEPTH 200
/* Most arguments a job may have (a Lua call passes them on the C stack). */
#define RL_EMBED_MAX_ARGS 1000
/* Handles: bits 48-63 the context's serial, 24-47 the slot's generation, 0-23 its
 * index. */
#define RL_EMBED_MAX_SLOTS (1u << 24)
#define RL_EMBED_GEN_MASK 0xffffffu

enum { RL_SLOT_CALL = 1, RL_SLOT_PUT = 2 };

/* One handle's slot. Slots move when the table grows: hold indices, not pointers,
 * across anything that may submit (a callback). */
typedef struct {
  uint32_t gen;       /* bumped on release, so old handles of this slot are stale */
  uint8_t used, kind;
  bool queued;        /* in the due list (its callback is due) */
  bool fetched;       /* code, value, error below are filled in */
  rl_id_t id;
  rayl_callback cb;
  void *user;
  uint32_t prev, next; /* due list links, or next free slot (index + 1; 0: none) */
  int code;
  rl_cw_value_t value; /* fetched and RAYL_OK: the value (pinned if in the store) */
  char *error, *traceback;
} rl_slot_t;

struct rayl_ctx {
  uint64_t magic; /* RL_EMBED_MAGIC while the struct is a context (it is never freed) */
  pthread_t owner;
  uint16_t serial;
  bool closed;
  rayl_handle in_callback; /* the handle whose callback runs now, or 0 */
  rl_cw_t *cw;
  rl_local_cluster_t *cluster;
  char *module_path; /* "" if none */
  rl_slot_t *slots;
  uint32_t nslots, capslots;
  uint32_t free_head;           /* index + 1 of a free slot, or 0 */
  uint32_t due_head, due_tail;  /* index + 1: callbacks due, oldest first */
  rl_idmap_t *by_id;            /* object id -> slot index + 1, for slots with a callback */
  rayl_ctx *next_opened;        /* every context ever opened (closed ones stay) */
};
#define RL_EMBED_MAGIC 0x7261796c2d637478ull

/* context.c */
/* Sets the calling thread's last error (printf-style) and returns code. */
int rl_embed_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* 0 if the calling thread may use ctx now, else the code (message set); fn names the
 * API function for the message. */
int rl_embed_check(rayl_ctx *ctx, const char *fn);

/* jobs.c */
/* Prepares the handle table and hooks it to the core worker. Returns 0 or -1. */
int rl_embed_jobs_open(rayl_ctx *ctx);
/* Releases every handle (pins included) and frees the table; before the core worker goes. */
void rl_embed_jobs_close(rayl_ctx *ctx);

/* pack.c */
/* One top-level element of an argument array: its encoding, or a handle. */
typedef struct {
  const unsigned char *p;
  size_t len;
  bool is_handle;
  rayl_handle handle;
} rl_embed_arg_t;
/* Appends n raw bytes to b (RAYL_OK, or RAYL_E_NOMEM with b->failed set). */
int rl_embed_buf_raw(rayl_buf *b, const void *p, size_t n);
/* Checks that args (len bytes; NULL / 0: none) is exactly one well-formed msgpack array
 * whose handles are all top-level, and splits it into *out (malloc'd; free it) of *n
 * elements. Returns 0, or -1 with a message in err naming the offending element. */
int rl_embed_split_args(const void *args, size_t len, rl_embed_arg_t **out, size_t *n, char *err, size_t errlen);

/* outcome.c */
/* The core worker's error encoder: a rayl error value ({type=, message=} with the
 * class rayl.Error), as Lua code on workers expects. */
void *rl_embed_encode_error(void *ctx, const char *type, const char *message, size_t *len);
/* Reads a failed job's encoded error: sets *error ("type: message") and *traceback
 * (NULL if none), both malloc'd, and returns the job's code (RAYL_E_TASK, ...). */
int rl_embed_decode_error(const void *data, size_t len, char **error, char **traceback);

#endif
