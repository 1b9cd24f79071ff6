/* actor_service.h: the head's actor manager for detached actors. Their owner
 * registers each one's spec (RL_GCS_ACTOR_REGISTER) and reports its state; callers
 * locate them through the head (RL_GCS_ACTOR_LOCATE); once the owner is gone the head
 * owns them: when an actor's worker or node dies it leases a worker from a node manager
 * and runs the creation task again (max_restarts), or marks it dead for good. Records
 * are kept in the head's database, so a restarted head still owns them. */
#ifndef RL_ACTOR_SERVICE_H
#define RL_ACTOR_SERVICE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/id.h"
#include "gcs/gcs_db.h"
#include "gcs/kv.h"
#include "gcs/node_table.h"
#include "wire/msg.h"

typedef struct rl_actor_service_t rl_actor_service_t;

/* A new service answering on router (the head's ROUTER), opening its own sockets to
 * node managers and workers in zctx (NULL: it never creates actors, e.g. in tests that
 * have no cluster), reaching nodes through nodes, freeing dead actors' names in kv, and
 * keeping records in db (NULL: memory only; else loaded from it now). address: the
 * head's endpoint as workers reach it. Returns NULL with err. */
rl_actor_service_t *rl_actor_service_new(void *router, void *zctx, rl_node_table_t *nodes, rl_kv_t *kv,
                                         rl_gcs_db_t *db, const char *address, char *err, size_t errlen);
/* Frees the service, closing its sockets; nulls *p; safe on NULL and twice. */
void rl_actor_service_destroy(rl_actor_service_t **p);
/* True for the message types rl_actor_service_handle takes. */
bool rl_actor_service_accepts(int type);
/* Handles one of those messages (bad ones are logged and dropped). */
void rl_actor_service_handle(rl_actor_service_t *s, const rl_msg_t *m);
/* These clients (drivers, workers) died or left: owners among them hand their detached
 * actors to the head; actors whose worker is among them are restarted (if the head owns
 * them). */
void rl_actor_service_clients_gone(rl_actor_service_t *s, const rl_id_t *ids, size_t n);
/* The node manager at endpoint is dead: owners there are gone, and actors that ran
 * there are restarted elsewhere. */
void rl_actor_service_node_died(rl_actor_service_t *s, const char *endpoint);
/* Reads its sockets (lease grants, creation results) and starts the creations that
 * wait; call often (each loop of the head). */
void rl_actor_service_tick(rl_actor_service_t *s, int64_t now_ms);
/* True while a creation is under way (the caller should tick it often). */
bool rl_actor_service_busy(const rl_actor_service_t *s);
/* How many actors it knows (for logs and tests). */
size_t rl_actor_service_count(const rl_actor_service_t *s);

#endif
