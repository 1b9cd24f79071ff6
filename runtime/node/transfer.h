/* transfer.h: pulling objects from other nodes' stores into this one. */
#ifndef RL_TRANSFER_H
#define RL_TRANSFER_H
#include <stdbool.h>
#include <stdint.h>

#include "node/nm.h"

#define RL_TRANSFER_CHUNK ((size_t)4 << 20) /* bytes of object per message */
#define RL_TRANSFER_TOKEN 16                /* bytes of a sealed transfer's token */
#define RL_TRANSFER_SELF UINT64_MAX         /* the node manager's own key in the object table */

/* A STORE_GET naming another node as the object's location, for an object not here:
 * starts (or joins) pulling it and answers the client once it is sealed here. Returns
 * false if the message is for the local store as usual. */
bool rl_transfer_get(rl_nm_t *nm, rl_msg_t *m, const rl_id_t *client, uint64_t key);
/* Answers another node's RL_NM_PULL with a chunk of a local object. */
void rl_transfer_serve(rl_nm_t *nm, const rl_id_t *client, rl_msg_t *m);
/* Answers another node's RL_NM_PULL_OPEN (secured clusters): a fresh key and token
 * for pulling that object sealed from this node's data socket (bound on first use). */
void rl_transfer_open(rl_nm_t *nm, const rl_id_t *client, rl_msg_t *m);
/* Answers what waits on nm->data_router: pulls naming a token, with sealed chunks. */
void rl_transfer_data_requests(rl_nm_t *nm);
/* What a sealed chunk's tag also covers (RL_ID_SIZE + 16 bytes into ad): which object,
 * where in it (offset) and its size (total), the numbers little-endian. */
void rl_transfer_chunk_ad(uint8_t ad[RL_ID_SIZE + 16], const rl_id_t *id, uint64_t offset, uint64_t total);
/* Forgets the sealed transfers' keys and closes nm->data_router (at exit). */
void rl_transfer_sealed_destroy(rl_nm_t *nm);
/* Handles what arrived from the node managers we pull from. */
void rl_transfer_peer_messages(rl_nm_t *nm, rl_nm_peer_t *p);
/* A STORE_DELETE naming another node as the object's location: passes it on to that
 * node manager (unless it is known dead), which deletes its copy. */
void rl_transfer_delete_elsewhere(rl_nm_t *nm, rl_msg_t *m);
/* The node at endpoint died: pulls from it fail now (their clients are told). */
void rl_transfer_node_died(rl_nm_t *nm, const char *endpoint);
/* Fails pending pulls and closes the connections to other nodes. */
void rl_transfer_destroy_all(rl_nm_t *nm);

#endif
