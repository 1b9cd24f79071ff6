/* id.h: 16-byte ids for workers, nodes, tasks and objects. */
#ifndef RL_ID_H
#define RL_ID_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RL_ID_SIZE 16
#define RL_ID_HEX 33 /* 32 hex digits and a NUL */

/* An id is plain bytes. An object id is its task id (the first 12 bytes: the creating
 * worker's 8-byte nonce and a 4-byte sequence number) plus a 4-byte index: the return
 * index of a task's result, or RL_ID_PUT_INDEX for an object made by put. */
typedef struct {
  uint8_t b[RL_ID_SIZE];
} rl_id_t;

#define RL_ID_PUT_INDEX 0x80000000u

/* A random id from the kernel's generator. Can't fail (aborts if no entropy source). */
rl_id_t rl_id_random(void);
/* The object id for return `index` of the task with id `task` (its last 4 bytes ignored). */
rl_id_t rl_id_for_object(rl_id_t task, uint32_t index);
/* A task id: the worker's nonce (first 8 bytes of `worker`) and a sequence number. */
rl_id_t rl_id_for_task(rl_id_t worker, uint32_t seq);
/* The object's index field (its return index). */
uint32_t rl_id_index(rl_id_t id);
/* The task id an object id belongs to (index zeroed). */
rl_id_t rl_id_task_of(rl_id_t object);
bool rl_id_eq(const rl_id_t *a, const rl_id_t *b);
bool rl_id_is_nil(const rl_id_t *a);
/* Writes 32 lowercase hex digits and a NUL into out (RL_ID_HEX bytes); returns out. */
char *rl_id_hex(const rl_id_t *id, char *out);
/* Parses 32 hex digits. Returns 0, or -1 if hex is not a valid id. */
int rl_id_parse(const char *hex, rl_id_t *out);
/* A well-mixed 64-bit hash of the id. */
uint64_t rl_id_hash(const rl_id_t *id);

#endif
