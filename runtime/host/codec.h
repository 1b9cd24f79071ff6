/* codec.h: Lua values to bytes and back: the format every value crossing processes
 * uses (task arguments and results, put objects, shipped closures). */
#ifndef RL_CODEC_H
#define RL_CODEC_H
#include <lua.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/id.h"
#include "wire/proto.h"

/* The encoded bytes of one value. Small pieces are copied into an internal buffer;
 * large strings and array payloads (>= RL_CODEC_BIG bytes) are referenced in place, not
 * copied, so a large value reaches the object store with a single copy. The referenced
 * Lua values must stay alive (on the Lua stack) until the buffer has been flattened. */
#define RL_CODEC_BIG (64 * 1024)
typedef struct rl_encoded_t rl_encoded_t;

/* What the codec asks of its host for ObjectRefs (userdata with the metatable
 * registered under RL_OBJREF_MT) and for array views into shared memory. */
typedef struct {
  /* An ObjectRef was encoded (so the caller can count refs contained in the value). */
  void (*ref_out)(void *ctx, const rl_id_t *id, const char *owner);
  /* Push a new ObjectRef for a decoded one. Returns 0, or -1 (with an error pushed). */
  int (*ref_in)(lua_State *L, void *ctx, const rl_id_t *id, const char *owner);
  void *ctx;
} rl_codec_hooks_t;

#define RL_OBJREF_MT "rayl.ObjectRef"
/* The userdata behind an ObjectRef (host/objref.c owns its lifetime). */
typedef struct {
  rl_id_t id;
  char owner[RL_ENDPOINT_MAX]; /* the owner's endpoint */
} rl_objref_t;

/* Encodes the value at stack index idx. `what` names it for error messages
 * ("argument 2", "the value passed to put"). Returns a new rl_encoded_t, or NULL with
 * a message in err naming the path to the offending part, e.g.
 *   cannot serialize upvalue 'co' of function at x.lua:3: coroutine
 *   cannot serialize argument 1.conn: userdata
 * Leaves the Lua stack as it found it; never raises. */
rl_encoded_t *rl_codec_encode(lua_State *L, int idx, const char *what, const rl_codec_hooks_t *hooks,
                              char *err, size_t errlen);
/* Total encoded size in bytes. */
size_t rl_encoded_size(const rl_encoded_t *e);
/* Copies the whole encoding into dst (rl_encoded_size bytes). */
void rl_encoded_copy(const rl_encoded_t *e, void *dst);
void rl_encoded_destroy(rl_encoded_t **p);

/* Decodes data (from a message or the store) and pushes the value. If `keeper` is not
 * 0, data lives in shared memory held alive by the Lua value at stack index keeper:
 * arrays become views into data (no copy) that keep the keeper alive; otherwise
 * everything is copied. Returns 0, or -1 with an error message pushed instead (the
 * data is malformed or a function's bytecode does not load here, e.g. another LuaJIT
 * build). */
int rl_codec_decode(lua_State *L, const void *data, size_t len, int keeper, const rl_codec_hooks_t *hooks);

/* Registers a class (a metatable) under a name known on every worker, so tables with
 * that metatable travel and get it back on the other side. The metatable is at stack
 * index mt. Both sides must register the same name. */
void rl_codec_register_class(lua_State *L, const char *name, int mt);

/* Registry key of a Lua function(cdata) -> element type name ("float64", ...), count,
 * set by the Lua layer so FFI arrays of numbers can travel as arrays; for a tensor it
 * returns "tensor", dtype (RL_TORCH_*), shape {sizes}, data address (a number), bytes,
 * flags (bit 0: requires_grad) and, when the elements were copied to be contiguous,
 * that copy (the elements are then copied into the encoding). */
#define RL_CDATA_DESCRIBER "rayl.cdata_describer"
/* Registry key of a Lua function(array, dtype, shape, flags) -> tensor, set by the Lua
 * layer, that makes a decoded tensor (rayl.torch) from its elements: a rayl.array
 * (a view into shared memory when decoded in place), its RL_TORCH_* dtype, its sizes and
 * its flags (bit 0: requires_grad). */
#define RL_TENSOR_DECODER "rayl.tensor_decoder"

/* Opens the codec's Lua-facing pieces into the table at the top of the stack: field
 * `array`, the rayl.array constructor (host/array.h). The wire format is described at
 * the top of codec.c. */
void rl_codec_open(lua_State *L);

#endif
