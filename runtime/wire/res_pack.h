/* res_pack.h: resource maps (sched/resources.h) on the wire, as msgpack maps {name: f64}. */
#ifndef RL_RES_PACK_H
#define RL_RES_PACK_H
#include <msgpack.h>

#include "sched/resources.h"

/* Packs m as a msgpack map {name: float}. Can't fail. */
void rl_res_pack(msgpack_packer *pk, const rl_resources_t *m);
/* Reads a map packed by rl_res_pack (or any map of names to non-negative numbers) into
 * *m. Returns 0, or -1 with *m untouched if o is NULL or not such a map: bad names or
 * amounts, duplicate names, more than RL_RES_MAX names (input from the network: never
 * asserts). */
int rl_res_unpack(const msgpack_object *o, rl_resources_t *m);

#endif
