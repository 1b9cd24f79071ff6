/* transfer.h: pulling objects from other nodes' stores into this one. */
#ifndef RL_TRANSFER_H
#define RL_TRANSFER_H
#include <stdbool.h>

#include "node/nm.h"

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
/* Handles what arrived from the node managers we pull from. */
void rl_transfer_peer_messages(rl_nm_t *nm, rl_nm_peer_t *p);
/* The node at endpoint died: pulls from it fail now (their clients are told). */
void rl_transfer_node_died(rl_nm_t *nm, const char *endpoint);
/* Fails pending pulls and closes the connections to other nodes. */
void rl_transfer_destroy_all(rl_nm_t *nm);

#endif
