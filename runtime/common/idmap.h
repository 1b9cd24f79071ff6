/* idmap.h: a hash map from rl_id_t to a pointer (open addressing, grows by doubling). */
#ifndef RL_IDMAP_H
#define RL_IDMAP_H
#include "common/id.h"

typedef struct rl_idmap_t rl_idmap_t;

/* A new empty map. Can't fail (out of memory ends the process: common/xalloc.h). */
rl_idmap_t *rl_idmap_new(void);
/* Frees the map (not the values) and nulls *p; safe on NULL and twice. */
void rl_idmap_destroy(rl_idmap_t **p);
/* The value for id, or NULL. */
void *rl_idmap_get(const rl_idmap_t *m, const rl_id_t *id);
/* Sets id's value (value must not be NULL). Can't fail. */
void rl_idmap_put(rl_idmap_t *m, const rl_id_t *id, void *value);
/* Removes id; returns its value or NULL if absent. */
void *rl_idmap_remove(rl_idmap_t *m, const rl_id_t *id);
size_t rl_idmap_size(const rl_idmap_t *m);
/* Iteration: *cursor starts at 0; returns the next value (and its id in *id_out if not
 * NULL), or NULL at the end. The map must not change during an iteration: collect the
 * ids to remove, then remove them. */
void *rl_idmap_next(const rl_idmap_t *m, size_t *cursor, rl_id_t *id_out);

#endif
