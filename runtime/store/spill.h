/* spill.h: the files that hold objects spilled out of the store (one per object,
 * named by the object's hex id, under one spill directory). */
#ifndef RL_SPILL_H
#define RL_SPILL_H
#include <stdbool.h>
#include <stddef.h>

#include "common/id.h"

/* Creates dir and its missing parents (mode 0700). Sets *created if dir itself was
 * made here. Returns 0, or -1 with a message in err. */
int rl_spill_mkdir(const char *dir, bool *created, char *err, size_t errlen);
/* Writes size bytes from p to dir/<hex id> (replacing any older file). Returns 0, or
 * -1 with a message in err and no file left behind. */
int rl_spill_write(const char *dir, const rl_id_t *id, const void *p, size_t size, char *err, size_t errlen);
/* Reads exactly size bytes of dir/<hex id> into p. Returns 0, or -1 with a message in
 * err (missing, short or unreadable file). The file stays. */
int rl_spill_read(const char *dir, const rl_id_t *id, void *p, size_t size, char *err, size_t errlen);
/* Removes dir/<hex id>; a missing file is not an error. Can't fail. */
void rl_spill_remove(const char *dir, const rl_id_t *id);

#endif
