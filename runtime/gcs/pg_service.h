/* pg_service.h: the head's placement group messages: create, remove, wait and list
 * from clients; reservations with the node managers; pushing each group's placement
 * to every node; keeping groups in the head's database. */
#ifndef RL_PG_SERVICE_H
#define RL_PG_SERVICE_H
#include <stdbool.h>
#include <stdint.h>

#include "gcs/gcs_db.h"
#include "gcs/node_table.h"
#include "wire/msg.h"
#include "wire/wire.h"

typedef struct rl_pg_service_t rl_pg_service_t;

/* Logs a warning about bad input (rate-limited by the head). */
typedef void(rl_pg_warn_fn)(void *arg, const char *what);

/* A service answering on sock (the head's ROUTER, borrowed), placing on nodes
 * (borrowed), keeping groups in db (borrowed; NULL: memory only) and loading those
 * saved there. Returns NULL with err if out of memory or the database can't be read. */
rl_pg_service_t *rl_pg_service_new(void *sock, rl_node_table_t *nodes, rl_gcs_db_t *db, rl_pg_warn_fn *warn,
                                   void *warn_arg, char *err, size_t errlen);
/* Frees it and nulls *p; safe twice. */
void rl_pg_service_destroy(rl_pg_service_t **p);
size_t rl_pg_service_count(const rl_pg_service_t *s);
/* The groups, for readers in the head (the dashboard): borrowed. */
const struct rl_pg_table_t *rl_pg_service_table(const rl_pg_service_t *s);

/* True for the message types handled here (RL_GCS_PG_*, RL_GCS_CLIENT_GONE). */
bool rl_pg_service_accepts(uint8_t type);
/* Handles one of them (validated field by field; bad ones dropped with a warning). */
void rl_pg_service_handle(rl_pg_service_t *s, const rl_msg_t *m, int64_t now_ms);

/* A heartbeat came from node: what its bundles hold (NULL if it did not say). */
void rl_pg_service_heartbeat(rl_pg_service_t *s, const rl_id_t *node, const rl_resources_t *reserved);
/* The node table changed (the node table's hook): a dead node's bundles are
 * rescheduled; a new or returning node may take waiting groups. */
void rl_pg_service_node_changed(rl_pg_service_t *s, const rl_node_t *node, bool forgotten);
/* Places waiting groups if something changed since the last call (call after each
 * batch of messages and on the head's tick). */
void rl_pg_service_schedule(rl_pg_service_t *s, int64_t now_ms);

/* Saves the groups changed since the last call, in one transaction (call after each
 * batch of messages and before stopping). */
void rl_pg_service_flush(rl_pg_service_t *s);

/* For a GET_NODES reply to a node manager that has the table at version: sets
 * reply's pg_version and, when version is not the table's, its groups (allocated:
 * free *mem once reply is packed; NULL when none). */
void rl_pg_service_view(rl_pg_service_t *s, uint64_t version, rl_gcs_nodes_msg_t *reply, void **mem);

#endif
