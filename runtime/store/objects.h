/* objects.h: the node's object table: where each object lives in the store region, who
 * pins it, who owns it, and spilling to disk under memory pressure.
 *
 * Life of an object: CREATE allocates it (state created; the creator holds one pin
 * while it writes), SEAL makes it immutable (sealed; the creator's pin is dropped),
 * GET pins it for a reader, RELEASE drops one pin, DELETE marks it deleted: it is
 * freed once no pin remains. When a CREATE (or a restore) needs room, sealed objects
 * without pins give theirs, least recently used first: copies pulled from other nodes
 * are dropped (they can be pulled again), then primary copies are spilled to a file; a
 * GET restores a spilled one, possibly at a new offset. Clients are opaque 64-bit keys; when one leaves
 * (rl_objects_client_gone) its pins are dropped, the objects it owns are deleted and
 * the ones it was still writing are aborted.
 *
 * Errors are returned as -1 with a message a user can act on in err. A GET of an
 * object that is not sealed yet, or not known here, is such an error: the requester
 * is expected to retry later (or fetch the object from elsewhere). */
#ifndef RL_OBJECTS_H
#define RL_OBJECTS_H
#include <stddef.h>
#include <stdint.h>

#include "common/id.h"

typedef struct rl_objects_t rl_objects_t;

/* A table managing [base, base + capacity) (the mapped region, borrowed). spill_dir
 * (copied; created if missing) holds spilled objects; NULL or "" disables spilling.
 * Returns NULL with a message in err on failure. */
rl_objects_t *rl_objects_new(void *base, size_t capacity, const char *spill_dir, char *err, size_t errlen);
/* Frees the table and removes the spill files (and the spill directory if it was
 * created here and is empty); nulls *p; safe twice. */
void rl_objects_destroy(rl_objects_t **p);

/* Allocates `size` bytes for a new object written by client `creator` and owned by
 * client `owner` (0: the creator). Makes room by spilling if needed. Returns 0 with
 * the offset in the region, or -1 with a message in err (already exists, larger than
 * the store, store full). */
int rl_objects_create(rl_objects_t *o, const rl_id_t *id, size_t size, uint64_t creator, uint64_t owner,
                      size_t *offset, char *err, size_t errlen);
/* The creator finished writing: the object is sealed and its creator pin dropped.
 * Returns -1 with a message in err if the object is unknown, sealed already, or
 * created by another client (nothing changes then). */
int rl_objects_seal(rl_objects_t *o, const rl_id_t *id, uint64_t client, char *err, size_t errlen);
/* Pins the sealed object for `client` and gives its location (restoring it from its
 * spill file if needed). Returns -1 with a message in err if the object is unknown,
 * not sealed yet, deleted, or cannot be restored now. */
/* True if id is being written: created, not sealed yet, not deleted (a get of it fails
 * now and may succeed shortly). */
bool rl_objects_unsealed(const rl_objects_t *o, const rl_id_t *id);
int rl_objects_get(rl_objects_t *o, const rl_id_t *id, uint64_t client, size_t *offset, size_t *size, char *err,
                   size_t errlen);
/* Drops one of client's pins. Returns -1 with a message in err if it holds none. */
int rl_objects_release(rl_objects_t *o, const rl_id_t *id, uint64_t client, char *err, size_t errlen);
/* Deletes the object (at once if unpinned, else when its last pin is dropped).
 * Returns -1 with a message in err if the object is unknown or deleted already. */
int rl_objects_delete(rl_objects_t *o, const rl_id_t *id, char *err, size_t errlen);
/* Client left: drop its pins, delete what it owns, abort what it was writing. */
void rl_objects_client_gone(rl_objects_t *o, uint64_t client);

/* Marks the object a copy pulled from another node (a secondary copy): when room is
 * needed, unpinned pulled copies are dropped, least recently used first, before any
 * primary copy is spilled; a reader here then pulls it again. Returns -1 if unknown. */
int rl_objects_set_pulled(rl_objects_t *o, const rl_id_t *id);
/* How many pulled copies were dropped for room. */
size_t rl_objects_evicted(const rl_objects_t *o);

/* Records the worker id of the object's owner (a process anywhere in the cluster), for
 * listings. Returns -1 if the object is unknown. */
int rl_objects_set_owner_id(rl_objects_t *o, const rl_id_t *id, const rl_id_t *owner_id);

/* One object as listed (rayl list objects). */
typedef struct {
  rl_id_t id;
  rl_id_t owner_id; /* nil if not known (a copy pulled from another node) */
  size_t size;
  int state;        /* 0 being written, 1 in memory, 2 spilled */
  uint64_t pins;    /* readers holding it now */
} rl_object_info_t;
/* Calls fn for each object not deleted, in no particular order. fn must not change the
 * table. */
void rl_objects_each(const rl_objects_t *o, void (*fn)(void *ctx, const rl_object_info_t *info), void *ctx);

/* Bytes allocated in the region, objects known (in memory or spilled), spilled. */
void rl_objects_stats(const rl_objects_t *o, size_t *used, size_t *objects, size_t *spilled);
/* Pins held on an object (all clients), or -1 if unknown. For tests. */
long rl_objects_pins(const rl_objects_t *o, const rl_id_t *id);

#endif
