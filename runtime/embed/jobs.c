/* jobs.c: the C API's handles: submitting jobs and puts, their states and values, and
 * rayl_update running completion callbacks within a time budget. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/copy.h"
#include "embed/embed_int.h"

#define S_ERR 512
/* The function every job runs on its worker: a field of the Lua module rayl.embed,
 * shipped by name (the codec's MODULE ext: "module\0field"). */
#define S_EXT_MODULE 5

/* ---- slots ---- */

static rayl_handle s_handle(const rayl_ctx *ctx, uint32_t i) {
  return (uint64_t)ctx->serial << 48 | (uint64_t)ctx->slots[i].gen << 24 | i;
}

/* The slot of handle h, silently: true with *index set if h is live in ctx. */
static bool s_live(const rayl_ctx *ctx, rayl_handle h, uint32_t *index) {
  uint32_t i = (uint32_t)(h & (RL_EMBED_MAX_SLOTS - 1)), gen = (uint32_t)(h >> 24) & RL_EMBED_GEN_MASK;
  if (h == RAYL_NO_HANDLE || (h >> 48) != ctx->serial || i >= ctx->nslots || !ctx->slots[i].used ||
      ctx->slots[i].gen != gen)
    return false;
  *index = i;
  return true;
}

/* The slot of handle h for API function fn: 0 with *index set, or RAYL_E_HANDLE with
 * a message saying what is wrong with h. */
static int s_find(rayl_ctx *ctx, rayl_handle h, const char *fn, uint32_t *index) {
  if (s_live(ctx, h, index)) return 0;
  unsigned long long x = (unsigned long long)h;
  if (h == RAYL_NO_HANDLE)
    return rl_embed_fail(RAYL_E_HANDLE, "%s: the handle is RAYL_NO_HANDLE (0); did the call meant to set it fail?",
                         fn);
  if ((h >> 48) != ctx->serial)
    return rl_embed_fail(RAYL_E_HANDLE, "%s: handle %#llx belongs to another context", fn, x);
  if ((uint32_t)(h & (RL_EMBED_MAX_SLOTS - 1)) >= ctx->nslots)
    return rl_embed_fail(RAYL_E_HANDLE, "%s: handle %#llx was never issued by this context", fn, x);
  return rl_embed_fail(RAYL_E_HANDLE,
                       "%s: handle %#llx is stale: it was released (by rayl_release, or when its callback returned)",
                       fn, x);
}

/* A free slot (marked used), growing the table if needed. Returns 0, or -1 if full. */
static int s_alloc(rayl_ctx *ctx, uint32_t *index) {
  if (!ctx->free_head) {
    if (ctx->nslots == ctx->capslots) {
      if (ctx->capslots >= RL_EMBED_MAX_SLOTS) return -1;
      uint32_t cap = ctx->capslots ? ctx->capslots * 2 : 64;
      rl_slot_t *grown = realloc(ctx->slots, (size_t)cap * sizeof *grown);
      if (!grown) return -1;
      ctx->slots = grown;
      ctx->capslots = cap;
    }
    memset(&ctx->slots[ctx->nslots], 0, sizeof *ctx->slots);
    ctx->slots[ctx->nslots].gen = 1;
    ctx->free_head = ++ctx->nslots;
  }
  uint32_t i = ctx->free_head - 1;
  rl_slot_t *s = &ctx->slots[i];
  ctx->free_head = s->next;
  uint32_t gen = s->gen;
  memset(s, 0, sizeof *s);
  s->gen = gen;
  s->used = 1;
  *index = i;
  return 0;
}

static void s_unqueue(rayl_ctx *ctx, uint32_t i) {
  rl_slot_t *s = &ctx->slots[i];
  if (!s->queued) return;
  if (s->prev) ctx->slots[s->prev - 1].next = s->next;
  else ctx->due_head = s->next;
  if (s->next) ctx->slots[s->next - 1].prev = s->prev;
  else ctx->due_tail = s->prev;
  s->queued = false;
  s->prev = s->next = 0;
}

static void s_release(rayl_ctx *ctx, uint32_t i) {
  rl_slot_t *s = &ctx->slots[i];
  s_unqueue(ctx, i);
  if (s->cb) rl_idmap_remove(ctx->by_id, &s->id);
  if (s->value.pinned) rl_cw_value_release(ctx->cw, &s->value);
  rl_cw_ref_drop(ctx->cw, &s->id);
  free(s->error);
  free(s->traceback);
  uint32_t gen = (s->gen + 1) & RL_EMBED_GEN_MASK;
  memset(s, 0, sizeof *s);
  s->gen = gen ? gen : 1;
  s->next = ctx->free_head;
  ctx->free_head = i + 1;
}

/* The core worker's ready hook: a job with a callback has ended; queue the callback. */
static void s_on_ready(void *arg, const rl_id_t *id) {
  rayl_ctx *ctx = arg;
  uintptr_t v = (uintptr_t)rl_idmap_get(ctx->by_id, id);
  if (!v) return;
  uint32_t i = (uint32_t)(v - 1);
  rl_slot_t *s = &ctx->slots[i];
  if (s->queued) return;
  s->queued = true;
  s->prev = ctx->due_tail;
  s->next = 0;
  if (ctx->due_tail) ctx->slots[ctx->due_tail - 1].next = i + 1;
  else ctx->due_head = i + 1;
  ctx->due_tail = i + 1;
}

int rl_embed_jobs_open(rayl_ctx *ctx) {
  ctx->by_id = rl_idmap_new();
  rl_cw_set_ready_hook(ctx->cw, s_on_ready, ctx);
  return 0;
}

void rl_embed_jobs_close(rayl_ctx *ctx) {
  for (uint32_t i = 0; i < ctx->nslots; i++) {
    rl_slot_t *s = &ctx->slots[i];
    if (!s->used) continue;
    if (s->value.pinned) rl_cw_value_release(ctx->cw, &s->value);
    free(s->error);
    free(s->traceback);
  }
  free(ctx->slots);
  ctx->slots = NULL;
  ctx->nslots = ctx->capslots = ctx->free_head = ctx->due_head = ctx->due_tail = 0;
  rl_idmap_destroy(&ctx->by_id);
  if (ctx->cw) rl_cw_set_ready_hook(ctx->cw, NULL, NULL);
}

/* ---- outcomes ---- */

/* Fills in slot i's code (and value or error) once its object has ended. Returns
 * RAYL_PENDING, or the code. Reading a value held in the store asks the node
 * manager for it (one round trip); the state alone never waits. */
static int s_fetch(rayl_ctx *ctx, uint32_t i, bool value) {
  rl_slot_t *s = &ctx->slots[i];
  if (s->fetched) return s->code;
  int state = rl_cw_object_state(ctx->cw, &s->id);
  if (state == RL_OBJ_PENDING) return RAYL_PENDING;
  if (state == RL_OBJ_READY && !value) return RAYL_OK;
  char err[S_ERR];
  rl_cw_value_t v;
  if (rl_cw_get(ctx->cw, &s->id, 0, &v, err, sizeof err) != 0) {
    s->code = RAYL_E_SYSTEM;
    size_t n = strlen(err) + 32;
    s->error = malloc(n);
    if (s->error) snprintf(s->error, n, "ObjectLostError: %s", err);
  } else if (v.state == RL_OBJ_FAILED) {
    s->code = rl_embed_decode_error(v.data, v.len, &s->error, &s->traceback);
    rl_cw_value_release(ctx->cw, &v);
  } else {
    s->code = RAYL_OK;
    s->value = v; /* inline bytes live as long as the object (we hold a ref); pins until release */
  }
  s->fetched = true;
  return s->code;
}

static void s_result(const rl_slot_t *s, rayl_result *r) {
  r->code = s->code;
  r->data = s->code == RAYL_OK ? s->value.data : NULL;
  r->len = s->code == RAYL_OK ? s->value.len : 0;
  r->error = s->code == RAYL_OK ? NULL : s->error ? s->error : "the job failed (out of memory for its message)";
  r->traceback = s->traceback;
}

/* ---- submitting ---- */

/* Submits rayl.embed.<entry>(path, names..., args...) and gives the job a slot. */
static int s_submit(rayl_ctx *ctx, const char *fn, const char *entry, const char *const *names, size_t nnames,
                    const char *task_name, const void *args, size_t args_len, rayl_callback cb, void *user,
                    rayl_handle *out) {
  char err[S_ERR];
  rl_embed_arg_t *elems = NULL;
  size_t nelems = 0;
  rl_task_arg_t *targs = NULL;
  rayl_buf b;
  rayl_buf_init(&b);
  if (out) *out = RAYL_NO_HANDLE;
  if (!out && !cb)
    return rl_embed_fail(RAYL_E_ARG, "%s: out is NULL and there is no callback: nothing could ever see the job", fn);
  if (rl_embed_split_args(args, args_len, &elems, &nelems, err, sizeof err) != 0)
    return rl_embed_fail(RAYL_E_ARG, "%s: %s", fn, err);
  int rc = RAYL_E_NOMEM;
  size_t nfixed = 1 + nnames, ntotal = nfixed + nelems;
  targs = calloc(ntotal, sizeof *targs);
  if (!targs) goto oom;
  /* The trampoline's own arguments first: module path, then the names (or source). */
  size_t at[3];
  for (size_t k = 0; k < nfixed; k++) {
    at[k] = b.len;
    if (rayl_pack_str(&b, k == 0 ? ctx->module_path : names[k - 1]) != RAYL_OK) goto oom;
  }
  for (size_t k = 0; k < nfixed; k++) {
    targs[k].data = b.data + at[k];
    targs[k].len = (k + 1 < nfixed ? at[k + 1] : b.len) - at[k];
  }
  for (size_t k = 0; k < nelems; k++) {
    rl_task_arg_t *a = &targs[nfixed + k];
    if (!elems[k].is_handle) {
      a->data = elems[k].p;
      a->len = elems[k].len;
      continue;
    }
    uint32_t ref;
    char what[64];
    snprintf(what, sizeof what, "%s (argument %zu)", fn, k + 1);
    if ((rc = s_find(ctx, elems[k].handle, what, &ref)) != 0) goto done;
    a->is_ref = true;
    a->ref = ctx->slots[ref].id;
    snprintf(a->owner, sizeof a->owner, "%s", rl_cw_endpoint(ctx->cw));
  }
  uint32_t i;
  if (s_alloc(ctx, &i) != 0) goto oom;
  unsigned char fn_blob[64];
  size_t entry_len = strlen(entry);
  fn_blob[0] = 0xc7; /* ext8: "rayl.embed\0<entry>" */
  fn_blob[1] = (unsigned char)(11 + entry_len);
  fn_blob[2] = S_EXT_MODULE;
  memcpy(fn_blob + 3, "rayl.embed", 11);
  memcpy(fn_blob + 14, entry, entry_len);
  char key[32];
  snprintf(key, sizeof key, "rayl.embed.%s", entry);
  rl_task_opts_t o = {.max_retries = 3, .num_returns = 1, .name = task_name};
  rl_res_set(&o.resources, "CPU", 1, err, sizeof err);
  rl_id_t id;
  if (rl_cw_submit(ctx->cw, key, strlen(key), fn_blob, 14 + entry_len, targs, ntotal, &o, &id, err, sizeof err) !=
      0) {
    s_release(ctx, i);
    rc = rl_embed_fail(RAYL_E_NOMEM, "%s: %s", fn, err);
    goto done;
  }
  rl_slot_t *s = &ctx->slots[i];
  s->kind = RL_SLOT_CALL;
  s->id = id;
  s->cb = cb;
  s->user = user;
  if (cb) rl_idmap_put(ctx->by_id, &id, (void *)(uintptr_t)(i + 1));
  if (out) *out = s_handle(ctx, i);
  /* A job that ended at once (a failed argument) is queued like any other. */
  if (cb && rl_cw_object_state(ctx->cw, &id) != RL_OBJ_PENDING) s_on_ready(ctx, &id);
  rc = RAYL_OK;
  goto done;
oom:
  rc = rl_embed_fail(RAYL_E_NOMEM, "%s: out of memory", fn);
done:
  free(elems);
  free(targs);
  rayl_buf_free(&b);
  return rc;
}

int rayl_submit_call(rayl_ctx *ctx, const char *module, const char *function, const void *args, size_t args_len,
                     rayl_callback cb, void *user, rayl_handle *out) {
  if (out) *out = RAYL_NO_HANDLE;
  int rc = rl_embed_check(ctx, "rayl_submit_call");
  if (rc) return rc;
  if (!module || !*module || !function || !*function)
    return rl_embed_fail(RAYL_E_ARG, "rayl_submit_call: the module and function names must be non-empty strings");
  const char *names[] = {module, function};
  char task_name[64];
  snprintf(task_name, sizeof task_name, "%s.%s", module, function);
  return s_submit(ctx, "rayl_submit_call", "call", names, 2, task_name, args, args_len, cb, user, out);
}

int rayl_submit_chunk(rayl_ctx *ctx, const char *source, const void *args, size_t args_len, rayl_callback cb,
                      void *user, rayl_handle *out) {
  if (out) *out = RAYL_NO_HANDLE;
  int rc = rl_embed_check(ctx, "rayl_submit_chunk");
  if (rc) return rc;
  if (!source) return rl_embed_fail(RAYL_E_ARG, "rayl_submit_chunk: source is NULL");
  const char *names[] = {source};
  return s_submit(ctx, "rayl_submit_chunk", "chunk", names, 1, "chunk", args, args_len, cb, user, out);
}

int rayl_put(rayl_ctx *ctx, const void *data, size_t len, rayl_handle *out) {
  if (out) *out = RAYL_NO_HANDLE;
  int rc = rl_embed_check(ctx, "rayl_put");
  if (rc) return rc;
  if (!out) return rl_embed_fail(RAYL_E_ARG, "rayl_put: out is NULL; pass where the handle goes");
  if (!data && len) return rl_embed_fail(RAYL_E_ARG, "rayl_put: data is NULL but len is %zu", len);
  if (len > UINT32_MAX)
    return rl_embed_fail(RAYL_E_ARG, "rayl_put: %zu bytes is more than one object holds (4 GiB)", len);
  /* Stored as a msgpack bin, so workers see a Lua string. */
  unsigned char head[5];
  size_t hn;
  if (len <= UINT8_MAX) head[0] = 0xc4, head[1] = (unsigned char)len, hn = 2;
  else if (len <= UINT16_MAX) head[0] = 0xc5, head[1] = (unsigned char)(len >> 8), head[2] = (unsigned char)len, hn = 3;
  else {
    head[0] = 0xc6;
    for (int k = 0; k < 4; k++) head[1 + k] = (unsigned char)(len >> (8 * (3 - k)));
    hn = 5;
  }
  uint32_t i;
  if (s_alloc(ctx, &i) != 0) return rl_embed_fail(RAYL_E_NOMEM, "rayl_put: out of memory");
  char err[S_ERR];
  rl_id_t id;
  void *dst;
  if (rl_cw_put(ctx->cw, hn + len, NULL, NULL, 0, &id, &dst, err, sizeof err) != 0) {
    ctx->slots[i].used = 0; /* nothing to drop: give the slot back as it was */
    ctx->slots[i].next = ctx->free_head;
    ctx->free_head = i + 1;
    return rl_embed_fail(RAYL_E_NOMEM, "rayl_put of %zu bytes failed: %s", len, err);
  }
  memcpy(dst, head, hn);
  if (len) rl_copy((char *)dst + hn, data, len);
  rl_cw_put_seal(ctx->cw, &id);
  ctx->slots[i].kind = RL_SLOT_PUT;
  ctx->slots[i].id = id;
  *out = s_handle(ctx, i);
  return RAYL_OK;
}

/* ---- progress ---- */

int rayl_update(rayl_ctx *ctx, uint32_t budget_us) {
  int64_t start = rl_now_us();
  int rc = rl_embed_check(ctx, "rayl_update");
  if (rc) return rc;
  if (ctx->in_callback)
    return rl_embed_fail(RAYL_E_STATE, "rayl_update: called from inside a completion callback");
  rl_cw_poll(ctx->cw, 0);
  int ran = 0;
  while (ctx->due_head && rl_now_us() - start < (int64_t)budget_us) {
    uint32_t i = ctx->due_head - 1;
    s_unqueue(ctx, i);
    if (s_fetch(ctx, i, true) == RAYL_PENDING) continue; /* not sealed yet: queued again when it is */
    rl_slot_t *s = &ctx->slots[i];
    rayl_result r;
    s_result(s, &r);
    rayl_handle h = s_handle(ctx, i);
    rayl_callback cb = s->cb;
    ctx->in_callback = h;
    cb(ctx, h, &r, s->user); /* may submit: slots can move, so look i up again */
    ctx->in_callback = RAYL_NO_HANDLE;
    ran++;
    uint32_t again; /* the callback may have released it already */
    if (s_live(ctx, h, &again)) s_release(ctx, again);
  }
  return ran;
}

int rayl_status(rayl_ctx *ctx, rayl_handle h) {
  uint32_t i;
  int rc = rl_embed_check(ctx, "rayl_status");
  if (rc || (rc = s_find(ctx, h, "rayl_status", &i))) return rc;
  return s_fetch(ctx, i, false);
}

int rayl_wait(rayl_ctx *ctx, rayl_handle h, int timeout_ms) {
  uint32_t i;
  int rc = rl_embed_check(ctx, "rayl_wait");
  if (rc || (rc = s_find(ctx, h, "rayl_wait", &i))) return rc;
  if (ctx->in_callback)
    return rl_embed_fail(RAYL_E_STATE, "rayl_wait: called from inside a completion callback (which must not block)");
  int64_t deadline = timeout_ms < 0 ? INT64_MAX : rl_now_ms() + timeout_ms;
  rl_id_t id = ctx->slots[i].id;
  for (;;) {
    if (rl_cw_object_state(ctx->cw, &id) != RL_OBJ_PENDING) return RAYL_OK;
    int64_t left = deadline - rl_now_ms();
    if (left <= 0)
      return rl_embed_fail(RAYL_E_TIMEOUT, "rayl_wait: handle %#llx did not finish within %d ms",
                           (unsigned long long)h, timeout_ms);
    rl_cw_poll_wait(ctx->cw, left > 100 ? 100 : (int)left);
  }
}

int rayl_cancel(rayl_ctx *ctx, rayl_handle h, int force) {
  uint32_t i;
  int rc = rl_embed_check(ctx, "rayl_cancel");
  if (rc || (rc = s_find(ctx, h, "rayl_cancel", &i))) return rc;
  if (ctx->slots[i].kind == RL_SLOT_PUT)
    return rl_embed_fail(RAYL_E_ARG, "rayl_cancel: handle %#llx is a stored object (rayl_put), not a job",
                         (unsigned long long)h);
  rl_id_t id = ctx->slots[i].id;
  if (rl_cw_object_state(ctx->cw, &id) != RL_OBJ_PENDING) return RAYL_OK; /* already ended */
  if (rl_cw_cancel(ctx->cw, &id, force != 0, true) != 0)
    return rl_embed_fail(RAYL_E_STATE, "rayl_cancel: the job of handle %#llx is not known to this process any more",
                         (unsigned long long)h);
  return RAYL_OK;
}

int rayl_get(rayl_ctx *ctx, rayl_handle h, const void **data, size_t *len) {
  uint32_t i;
  int rc = rl_embed_check(ctx, "rayl_get");
  if (rc || (rc = s_find(ctx, h, "rayl_get", &i))) return rc;
  if (!data || !len) return rl_embed_fail(RAYL_E_ARG, "rayl_get: data or len is NULL");
  rc = s_fetch(ctx, i, true);
  if (rc == RAYL_PENDING) return rc;
  rl_slot_t *s = &ctx->slots[i];
  if (rc != RAYL_OK) return rl_embed_fail(rc, "rayl_get: the job failed: %s", s->error ? s->error : "?");
  rayl_reader r;
  rayl_reader_init(&r, s->value.data, s->value.len);
  const char *p;
  size_t n;
  if (rayl_read_str(&r, &p, &n) != RAYL_OK)
    return rl_embed_fail(RAYL_E_TYPE, "rayl_get: the value is not a string; read it with rayl_get_result");
  *data = p;
  *len = n;
  return RAYL_OK;
}

int rayl_get_result(rayl_ctx *ctx, rayl_handle h, rayl_result *out) {
  uint32_t i;
  int rc = rl_embed_check(ctx, "rayl_get_result");
  if (rc || (rc = s_find(ctx, h, "rayl_get_result", &i))) return rc;
  if (!out) return rl_embed_fail(RAYL_E_ARG, "rayl_get_result: out is NULL");
  if (s_fetch(ctx, i, true) == RAYL_PENDING) return RAYL_PENDING;
  s_result(&ctx->slots[i], out);
  return RAYL_OK;
}

int rayl_release(rayl_ctx *ctx, rayl_handle h) {
  uint32_t i;
  int rc = rl_embed_check(ctx, "rayl_release");
  if (rc || (rc = s_find(ctx, h, "rayl_release", &i))) return rc;
  s_release(ctx, i);
  return RAYL_OK;
}
