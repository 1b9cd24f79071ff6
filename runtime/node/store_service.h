/* store_service.h: the node manager's side of the object store: owns the shared-memory
 * region and the object table, and answers the RL_NM_STORE_* messages. */
#ifndef RL_STORE_SERVICE_H
#define RL_STORE_SERVICE_H
#include <stddef.h>
#include <stdint.h>

#include "common/id.h"
#include "wire/msg.h"

typedef struct rl_store_service_t rl_store_service_t;

/* The smallest object store a node accepts (object_store_memory, --object-store-memory);
 * lua/rayl/options.lua checks rayl.init's against the same number. */
#define RL_STORE_MIN_BYTES (1024 * 1024)

/* Creates the node's store: one shared-memory region of `capacity` bytes (a memfd, so
 * nothing is left behind in /dev/shm when the process dies) and spills to files under
 * spill_dir (created if missing). Returns NULL with a message in err on failure. */
rl_store_service_t *rl_store_service_new(size_t capacity, const char *spill_dir, char *err, size_t errlen);
/* Frees the region and removes spilled files; nulls *p; safe twice. */
void rl_store_service_destroy(rl_store_service_t **p);
/* The path a local process opens to map the region (borrowed string). */
const char *rl_store_service_path(const rl_store_service_t *s);
size_t rl_store_service_capacity(const rl_store_service_t *s);
/* Handles one RL_NM_STORE_* message from client `client` (a key the node manager gives
 * each registered client), replying on the ROUTER `sock` to the message's identity.
 * `owner_client` maps an owner worker id to its client key (0 if unknown), so objects
 * can be dropped when their owner leaves. Returns 0 if handled, -1 if the message was
 * malformed (logged, nothing changed). */
int rl_store_service_handle(rl_store_service_t *s, void *sock, rl_msg_t *m, uint64_t client,
                            uint64_t (*owner_client)(void *ctx, const rl_id_t *owner), void *ctx);
/* Answers RL_NM_LIST_OBJECTS (wire/proto.h) with what the store holds, on the ROUTER
 * sock to the message's identity. */
void rl_store_service_list(rl_store_service_t *s, void *sock, rl_msg_t *m, const rl_id_t *node_id);
/* A client left or died: drop its pins and delete the objects it owned. */
void rl_store_service_client_gone(rl_store_service_t *s, uint64_t client);
/* Bytes in use, objects held, objects spilled (for status and tests). */
void rl_store_service_stats(const rl_store_service_t *s, size_t *used, size_t *objects, size_t *spilled);

/* The object table and the region's base, for moving objects between nodes
 * (node/transfer.c). */
struct rl_objects_t;
struct rl_objects_t *rl_store_service_objects(rl_store_service_t *s);
void *rl_store_service_base(rl_store_service_t *s);
/* Faults in this process's pages of the n bytes at p (inside the region) ahead of a copy,
 * for writing if write, else for reading; pages already faulted in by an earlier call
 * are not asked for again (the kernel walks every page of a range it is asked to
 * populate: 0.2 ms per 4 MiB here even when none is missing). Can't fail: a range the
 * kernel would not populate is faulted in by the copy itself. */
void rl_store_service_prefault(rl_store_service_t *s, const void *p, size_t n, bool write);

#endif
