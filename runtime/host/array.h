/* array.h: rayl.array, a typed numeric array userdata (owned, or a read-only view). */
#ifndef RL_ARRAY_H
#define RL_ARRAY_H
#include <lua.h>
#include <stddef.h>
#include <stdint.h>

#define RL_ARRAY_MT "rayl.array"

/* Element types. The numbers are part of the codec's wire format: never renumber. */
enum { RL_DT_FLOAT32 = 1, RL_DT_FLOAT64 = 2, RL_DT_INT32 = 3, RL_DT_INT64 = 4, RL_DT_UINT8 = 5 };

/* The userdata behind a rayl.array. `data` is 64-byte aligned for owned arrays; for a
 * view it points into shared memory kept alive by the userdata's environment table. */
typedef struct {
  void *data;
  size_t n;        /* number of elements */
  uint8_t dtype;   /* RL_DT_* */
  uint8_t view;    /* 1: read-only view of shared memory */
  uint8_t malloced; /* 1: data was malloc'd (too big for a userdata); freed by __gc */
} rl_array_t;

/* Bytes per element of dtype, or 0 if dtype is not a valid RL_DT_*. */
size_t rl_dtype_size(int dtype);
/* The name of dtype ("float64"...), or NULL if invalid. */
const char *rl_dtype_name(int dtype);
/* The RL_DT_* for a name, or 0 if unknown. */
int rl_dtype_parse(const char *name);

/* Pushes a new owned array of n elements. zero: fill with zeros (else contents are
 * undefined). Raises a Lua error if n is too big or memory runs out. */
rl_array_t *rl_array_push(lua_State *L, int dtype, size_t n, int zero);
/* Pushes a read-only view of n elements at data (aligned to the element size). The
 * table at stack index env becomes its environment: put there whatever keeps data
 * alive. Raises a Lua error if memory runs out. */
rl_array_t *rl_array_push_view(lua_State *L, int dtype, size_t n, const void *data, int env);
/* The array at stack index idx, or NULL if the value there is not a rayl.array. */
rl_array_t *rl_array_test(lua_State *L, int idx);
/* Creates the rayl.array metatable if missing and pushes it. Can raise (memory). */
void rl_array_pushmt(lua_State *L);
/* Sets field `array` (the constructor array(dtype, n | {values})) of the table at the
 * top of the stack. */
void rl_array_open(lua_State *L);

#endif
