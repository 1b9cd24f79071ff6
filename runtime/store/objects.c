/* objects.c: the object table: allocation, pins, deletion, LRU eviction of pulled
 * copies, LRU spilling and restore. */
#include "common/selftest.h"
#include "store/objects.h"

#include <assert.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/idmap.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "store/alloc.h"
#include "store/spill.h"

enum { S_CREATED, S_SEALED, S_SPILLED };
static const char *const s_state_names[] = {"being written", "sealed", "spilled"};

typedef struct {
  uint64_t client;
  uint32_t count;
} s_pin_t;

typedef struct s_obj_t {
  rl_id_t id;
  size_t offset, size;
  int state;
  bool deleted;
  uint64_t owner, creator;
  rl_id_t owner_id; /* for listings; nil if not known */
  s_pin_t *pins;
  uint32_t npins, pins_cap;
  uint64_t total_pins;
  int64_t created_us, used_us;
  struct s_obj_t *lru_prev, *lru_next;
  bool in_lru;
  bool secondary; /* a copy pulled from another node: dropped, not spilled, for room */
} s_obj_t;

/* Objects that may give up their memory now, least recently used first. */
typedef struct {
  s_obj_t *head, *tail;
} s_lru_t;

struct rl_objects_t {
  unsigned char *base;
  rl_alloc_t *alloc;
  rl_idmap_t *map;
  char *spill_dir; /* NULL: spilling disabled */
  bool made_dir;
  /* Sealed, in-memory, unpinned objects: pulled copies (dropped first, as they can be
   * pulled again) and primary copies (spilled). evictable_bytes counts both. */
  s_lru_t pulled, primary;
  size_t evictable_bytes;
  size_t used, nspilled, npinned; /* npinned: objects in memory with pins */
  size_t nevicted;                /* pulled copies dropped for room */
};

/* ---- LRU of spill candidates ---- */

static s_lru_t *s_lru_of(rl_objects_t *o, const s_obj_t *x) { return x->secondary ? &o->pulled : &o->primary; }

static void s_lru_unlink(rl_objects_t *o, s_obj_t *x) {
  if (!x->in_lru) return;
  s_lru_t *l = s_lru_of(o, x);
  if (x->lru_prev) x->lru_prev->lru_next = x->lru_next; else l->head = x->lru_next;
  if (x->lru_next) x->lru_next->lru_prev = x->lru_prev; else l->tail = x->lru_prev;
  x->lru_prev = x->lru_next = NULL;
  x->in_lru = false;
  o->evictable_bytes -= rl_alloc_round(x->size);
}

/* Puts x in the LRU (as most recent) if and only if it may be spilled now. */
static void s_lru_refresh(rl_objects_t *o, s_obj_t *x) {
  bool want = x->state == S_SEALED && x->total_pins == 0 && !x->deleted;
  if (want == x->in_lru) return;
  if (!want) {
    s_lru_unlink(o, x);
    return;
  }
  s_lru_t *l = s_lru_of(o, x);
  x->lru_prev = l->tail;
  x->lru_next = NULL;
  if (l->tail) l->tail->lru_next = x; else l->head = x;
  l->tail = x;
  x->in_lru = true;
  o->evictable_bytes += rl_alloc_round(x->size);
}

/* ---- pins ---- */

static void s_pin(rl_objects_t *o, s_obj_t *x, uint64_t client) {
  uint32_t i = 0;
  while (i < x->npins && x->pins[i].client != client) i++;
  if (i == x->npins) {
    if (x->npins == x->pins_cap) {
      uint32_t cap = x->pins_cap ? x->pins_cap * 2 : 2;
      x->pins = rl_xrealloc(x->pins, cap * sizeof *x->pins);
      x->pins_cap = cap;
    }
    x->pins[x->npins++] = (s_pin_t){client, 0};
  }
  x->pins[i].count++;
  if (x->total_pins++ == 0) o->npinned++;
  s_lru_refresh(o, x);
}

/* Drops `count` pins of client (all of them if count is UINT32_MAX). Returns how many
 * were dropped. */
static uint32_t s_unpin(rl_objects_t *o, s_obj_t *x, uint64_t client, uint32_t count) {
  for (uint32_t i = 0; i < x->npins; i++) {
    if (x->pins[i].client != client) continue;
    uint32_t n = count < x->pins[i].count ? count : x->pins[i].count;
    x->pins[i].count -= n;
    if (x->pins[i].count == 0) x->pins[i] = x->pins[--x->npins];
    x->total_pins -= n;
    if (n && x->total_pins == 0) o->npinned--;
    x->used_us = rl_now_us();
    s_lru_refresh(o, x);
    return n;
  }
  return 0;
}

/* ---- freeing, spilling, restoring ---- */

static void s_release_memory(rl_objects_t *o, s_obj_t *x) {
  s_lru_unlink(o, x);
  rl_alloc_free(o->alloc, x->offset, x->size);
  o->used -= rl_alloc_round(x->size);
}

/* Frees x if it is deleted and unpinned. Returns true if it is gone. */
static bool s_reap(rl_objects_t *o, s_obj_t *x) {
  if (!x->deleted || x->total_pins) return false;
  if (x->state == S_SPILLED) {
    rl_spill_remove(o->spill_dir, &x->id);
    o->nspilled--;
  } else {
    s_release_memory(o, x);
  }
  rl_idmap_remove(o->map, &x->id);
  free(x->pins);
  free(x);
  return true;
}

static int s_spill(rl_objects_t *o, s_obj_t *x, char *err, size_t errlen) {
  assert(x->in_lru && o->spill_dir);
  if (rl_spill_write(o->spill_dir, &x->id, o->base + x->offset, x->size, err, errlen) != 0) return -1;
  s_release_memory(o, x);
  x->state = S_SPILLED;
  o->nspilled++;
  char hex[RL_ID_HEX];
  rl_log(RL_LOG_DEBUG, "store: spilled object %s (%zu bytes)", rl_id_hex(&x->id, hex), x->size);
  return 0;
}

/* Drops x, an unpinned pulled copy: its memory is freed and it is no longer here (a
 * reader on this node pulls it again). */
static void s_evict(rl_objects_t *o, s_obj_t *x) {
  assert(x->in_lru && x->secondary);
  char hex[RL_ID_HEX];
  rl_log(RL_LOG_DEBUG, "store: dropped pulled copy %s (%zu bytes) for room", rl_id_hex(&x->id, hex), x->size);
  s_release_memory(o, x);
  rl_idmap_remove(o->map, &x->id);
  free(x->pins);
  free(x);
  o->nevicted++;
}

/* Finds room for `size` bytes: allocates, else drops unpinned pulled copies, then
 * spills unpinned sealed objects (least recently used first in each) until the
 * allocation fits. Returns 0 with *offset, or -1 with the store-full message in err. */
static int s_make_room(rl_objects_t *o, size_t size, size_t *offset, char *err, size_t errlen) {
  size_t need = rl_alloc_round(size), cap = rl_alloc_capacity(o->alloc);
  if (need == 0 || need > cap) {
    snprintf(err, errlen,
             "object of %zu bytes is larger than the object store (%zu bytes); raise object_store_memory", size,
             cap);
    return -1;
  }
  if (rl_alloc_take(o->alloc, size, offset) == 0) return 0;
  char why[256] = "";
  /* Only if it can help: free plus releasable memory must at least hold need. */
  size_t releasable = o->evictable_bytes;
  if (!o->spill_dir)
    for (s_obj_t *x = o->primary.head; x; x = x->lru_next) releasable -= rl_alloc_round(x->size);
  if (rl_alloc_free_bytes(o->alloc) + releasable >= need) {
    while (o->pulled.head) {
      s_evict(o, o->pulled.head);
      if (rl_alloc_take(o->alloc, size, offset) == 0) return 0;
    }
    while (o->spill_dir && o->primary.head) {
      if (s_spill(o, o->primary.head, why, sizeof why) != 0) break;
      if (rl_alloc_take(o->alloc, size, offset) == 0) return 0;
    }
  }
  snprintf(err, errlen,
           "object store is full: need %zu bytes, %zu free of %zu (pinned objects: %zu); raise "
           "object_store_memory or release references%s%s",
           need, rl_alloc_free_bytes(o->alloc), cap, o->npinned, why[0] ? "; spilling failed: " : "", why);
  return -1;
}

static int s_restore(rl_objects_t *o, s_obj_t *x, char *err, size_t errlen) {
  size_t off;
  if (s_make_room(o, x->size, &off, err, errlen) != 0) return -1;
  if (rl_spill_read(o->spill_dir, &x->id, o->base + off, x->size, err, errlen) != 0) {
    rl_alloc_free(o->alloc, off, x->size);
    return -1;
  }
  rl_spill_remove(o->spill_dir, &x->id);
  x->offset = off;
  x->state = S_SEALED;
  o->used += rl_alloc_round(x->size);
  o->nspilled--;
  s_lru_refresh(o, x);
  return 0;
}

/* ---- public API ---- */

rl_objects_t *rl_objects_new(void *base, size_t capacity, const char *spill_dir, char *err, size_t errlen) {
  rl_objects_t *o = rl_xcalloc(1, sizeof *o);
  o->base = base;
  o->alloc = rl_alloc_new(capacity);
  o->map = rl_idmap_new();
  if (!o->alloc) {
    snprintf(err, errlen, "object store capacity %zu is too small (at least %d bytes)", capacity, RL_ALLOC_ALIGN);
    goto err;
  }
  if (spill_dir && *spill_dir) {
    o->spill_dir = rl_xstrdup(spill_dir);
    if (rl_spill_mkdir(spill_dir, &o->made_dir, err, errlen) != 0) goto err;
  }
  return o;
err:
  rl_objects_destroy(&o);
  return NULL;
}

void rl_objects_destroy(rl_objects_t **p) {
  if (!p || !*p) return;
  rl_objects_t *o = *p;
  if (o->map) {
    size_t cur = 0;
    s_obj_t *x;
    while ((x = rl_idmap_next(o->map, &cur, NULL))) {
      if (x->state == S_SPILLED) rl_spill_remove(o->spill_dir, &x->id);
      free(x->pins);
      free(x);
    }
  }
  if (o->made_dir) rmdir(o->spill_dir);
  rl_idmap_destroy(&o->map);
  rl_alloc_destroy(&o->alloc);
  free(o->spill_dir);
  free(o);
  *p = NULL;
}

int rl_objects_create(rl_objects_t *o, const rl_id_t *id, size_t size, uint64_t creator, uint64_t owner,
                      size_t *offset, char *err, size_t errlen) {
  char hex[RL_ID_HEX];
  s_obj_t *x = rl_idmap_get(o->map, id);
  if (x) {
    snprintf(err, errlen, "object %s already exists in the store (%s%s)", rl_id_hex(id, hex),
             s_state_names[x->state], x->deleted ? ", deleted but still referenced" : "");
    return -1;
  }
  x = rl_xcalloc(1, sizeof *x);
  x->id = *id;
  x->size = size;
  x->state = S_CREATED;
  x->creator = creator;
  x->owner = owner ? owner : creator;
  x->created_us = x->used_us = rl_now_us();
  if (s_make_room(o, size, &x->offset, err, errlen) != 0) {
    free(x);
    return -1;
  }
  o->used += rl_alloc_round(size);
  rl_idmap_put(o->map, id, x);
  s_pin(o, x, creator);
  *offset = x->offset;
  return 0;
}

int rl_objects_seal(rl_objects_t *o, const rl_id_t *id, uint64_t client, char *err, size_t errlen) {
  char hex[RL_ID_HEX];
  s_obj_t *x = rl_idmap_get(o->map, id);
  if (!x || x->state != S_CREATED || x->creator != client) {
    snprintf(err, errlen, "cannot seal object %s: %s", rl_id_hex(id, hex),
             !x ? "not in the store" : x->state != S_CREATED ? "sealed already" : "created by another client");
    return -1;
  }
  x->state = S_SEALED;
  x->used_us = rl_now_us();
  s_unpin(o, x, client, 1);
  s_reap(o, x);
  return 0;
}

bool rl_objects_unsealed(const rl_objects_t *o, const rl_id_t *id) {
  const s_obj_t *x = rl_idmap_get(o->map, id);
  return x && !x->deleted && x->state == S_CREATED;
}

int rl_objects_get(rl_objects_t *o, const rl_id_t *id, uint64_t client, size_t *offset, size_t *size, char *err,
                   size_t errlen) {
  char hex[RL_ID_HEX];
  s_obj_t *x = rl_idmap_get(o->map, id);
  if (!x || x->deleted || x->state == S_CREATED) {
    snprintf(err, errlen, "object %s is %s", rl_id_hex(id, hex),
             !x ? "not in this node's store" : x->deleted ? "deleted" : "not sealed yet");
    return -1;
  }
  if (x->state == S_SPILLED && s_restore(o, x, err, errlen) != 0) return -1;
  s_pin(o, x, client);
  x->used_us = rl_now_us();
  *offset = x->offset;
  *size = x->size;
  return 0;
}

int rl_objects_release(rl_objects_t *o, const rl_id_t *id, uint64_t client, char *err, size_t errlen) {
  char hex[RL_ID_HEX];
  s_obj_t *x = rl_idmap_get(o->map, id);
  if (!x || s_unpin(o, x, client, 1) == 0) {
    snprintf(err, errlen, "cannot release object %s: %s", rl_id_hex(id, hex),
             x ? "the client holds no reference" : "not in the store");
    return -1;
  }
  s_reap(o, x);
  return 0;
}

int rl_objects_delete(rl_objects_t *o, const rl_id_t *id, char *err, size_t errlen) {
  char hex[RL_ID_HEX];
  s_obj_t *x = rl_idmap_get(o->map, id);
  if (!x || x->deleted) {
    snprintf(err, errlen, "cannot delete object %s: %s", rl_id_hex(id, hex), x ? "deleted already" : "not in the store");
    return -1;
  }
  x->deleted = true;
  s_lru_refresh(o, x);
  s_reap(o, x);
  return 0;
}

void rl_objects_client_gone(rl_objects_t *o, uint64_t client) {
  /* The map can't change while iterating: collect the affected objects first. */
  size_t n = 0, cap = rl_idmap_size(o->map), cur = 0;
  s_obj_t **hit = rl_xmalloc(cap * sizeof *hit), *x;
  while ((x = rl_idmap_next(o->map, &cur, NULL))) {
    bool pinned = false;
    for (uint32_t i = 0; i < x->npins && !pinned; i++) pinned = x->pins[i].client == client;
    if (pinned || x->owner == client || (x->creator == client && x->state == S_CREATED)) hit[n++] = x;
  }
  for (size_t i = 0; i < n; i++) {
    x = hit[i];
    s_unpin(o, x, client, UINT32_MAX);
    if (x->owner == client || (x->creator == client && x->state == S_CREATED)) x->deleted = true;
    s_lru_refresh(o, x);
    s_reap(o, x);
  }
  free(hit);
}

int rl_objects_set_pulled(rl_objects_t *o, const rl_id_t *id) {
  s_obj_t *x = rl_idmap_get(o->map, id);
  if (!x) return -1;
  bool listed = x->in_lru;
  s_lru_unlink(o, x);
  x->secondary = true;
  if (listed) s_lru_refresh(o, x);
  return 0;
}

size_t rl_objects_evicted(const rl_objects_t *o) { return o->nevicted; }

int rl_objects_set_owner_id(rl_objects_t *o, const rl_id_t *id, const rl_id_t *owner_id) {
  s_obj_t *x = rl_idmap_get(o->map, id);
  if (!x) return -1;
  x->owner_id = *owner_id;
  return 0;
}

void rl_objects_each(const rl_objects_t *o, void (*fn)(void *ctx, const rl_object_info_t *info), void *ctx) {
  size_t cur = 0;
  s_obj_t *x;
  while ((x = rl_idmap_next(o->map, &cur, NULL))) {
    if (x->deleted) continue;
    rl_object_info_t info = {.id = x->id, .owner_id = x->owner_id, .size = x->size, .state = x->state,
                             .pins = x->total_pins};
    fn(ctx, &info);
  }
}

void rl_objects_stats(const rl_objects_t *o, size_t *used, size_t *objects, size_t *spilled) {
  if (used) *used = o->used;
  if (objects) *objects = rl_idmap_size(o->map);
  if (spilled) *spilled = o->nspilled;
}

long rl_objects_pins(const rl_objects_t *o, const rl_id_t *id) {
  s_obj_t *x = rl_idmap_get(o->map, id);
  return x ? (long)x->total_pins : -1;
}
