/* codec_int.h: internals shared by codec.c, codec_encode.c and codec_decode.c. */
#ifndef RL_CODEC_INT_H
#define RL_CODEC_INT_H
#include <stdint.h>

#include "host/codec.h"

/* msgpack ext type numbers used by the codec (see the format comment in codec.c). */
enum {
  RL_EXT_REF = 1,    /* back-reference: u32 index */
  RL_EXT_CLASS = 2,  /* registered class name; a table follows */
  RL_EXT_FUNC = 3,   /* function header; bytecode (bin) and upvalues follow */
  RL_EXT_ARRAY = 4,  /* rayl.array: dtype, padding, raw data */
  RL_EXT_MODULE = 5, /* module by name: "mod" or "mod\0key" */
  RL_EXT_MODMT = 6,  /* metatable that is a module: "mod"; a table follows */
  RL_EXT_UPJOIN = 7, /* upvalue shared with an earlier function: u32 index, u8 upvalue */
  RL_EXT_OBJREF = 8, /* ObjectRef: 16-byte id, owner endpoint */
  RL_EXT_TENSOR = 9, /* tensor: dtype, flags, shape; its elements follow as an ARRAY */
};
/* Tensor element types on the wire: rayl.array's RL_DT_* numbers, plus bool (sent as
 * uint8 elements); the same numbers as rtorch.h's RL_TORCH_* dtypes. */
enum { RL_TENSOR_FLOAT32 = 1, RL_TENSOR_BOOL = 6 };
#define RL_TENSOR_MAXDIM 16
#define RL_TENSOR_REQUIRES_GRAD 1 /* flags bit */
#define RL_FUNC_HDR 7 /* u32 LUAJIT_VERSION_NUM, u8 bytecode version, u8 flags, u8 nups */
#define RL_BC_FLAGS_MASK 0x09 /* the bytecode dump flags that matter: big-endian, FR2 (GC64) */
#define RL_CODEC_MAXDEPTH 200
#define RL_CLASSES_KEY "rayl.codec.classes"

/* A map from pointers to two u32s, cleared in O(1) by bumping a generation. */
typedef struct {
  const void *key;
  uint32_t gen, a, b;
} rl_pslot_t;
typedef struct {
  rl_pslot_t *slots;
  uint32_t mask, count, gen;
} rl_pmap_t;

/* The slot for key, or NULL. */
rl_pslot_t *rl_pmap_find(const rl_pmap_t *m, const void *key);
/* Inserts or overwrites key. Returns the slot, or NULL if out of memory. */
rl_pslot_t *rl_pmap_put(rl_pmap_t *m, const void *key, uint32_t a, uint32_t b);
void rl_pmap_clear(rl_pmap_t *m);

/* Per-Lua-state scratch kept between calls (in the registry), so an encode does not
 * allocate per value. */
typedef struct {
  rl_pmap_t refs;   /* encode: table/function/array -> reference index */
  rl_pmap_t upvals; /* encode: upvalue id -> (function index, upvalue number) */
  rl_pmap_t mods;   /* encode: module table/function -> (name offset, name length) */
  int modlevel;     /* 0: mods empty, 1: module tables mapped, 2: their functions too */
  char *names;      /* module names, "mod" or "mod\0key", referenced from mods */
  size_t nameslen, namescap;
  char *dump; /* lua_dump output of the function being encoded */
  size_t dumplen, dumpcap;
  const rl_objref_t **orefs; /* ObjectRefs met, reported to ref_out once encoding succeeds */
  size_t norefs, orefcap;
  int bc_version, bc_flags; /* this LuaJIT's bytecode header (from an empty function's dump) */
  int encode_fn, decode_fn; /* registry refs to the protected entry points */
  int busy;
} rl_codec_ctx_t;

/* The codec context of L's registry, created on first use. Returns NULL if memory runs
 * out. Never raises. */
rl_codec_ctx_t *rl_codec_ctx(lua_State *L);

/* Dumps the function at the top of the stack (not stripped) into cx->dump, leaving it
 * there. Returns 0, or -1 if memory runs out. */
int rl_codec_dump(lua_State *L, rl_codec_ctx_t *cx);

/* The encoded buffer (codec.c). */
typedef struct {
  size_t at; /* the blob goes after this many bytes of buf */
  const void *p;
  size_t n;
  int owned; /* p is the encoding's (malloc'd): freed with it */
} rl_blob_t;
struct rl_encoded_t {
  char *buf;
  size_t len, cap;
  rl_blob_t *blobs;
  size_t nblobs, blobcap;
  size_t total; /* len plus all blob sizes */
  int oom;      /* an append failed: the encoding is incomplete */
  char inl[192];
};
/* Appends bytes (0, or -1 out of memory). */
int rl_encoded_append(rl_encoded_t *e, const void *p, size_t n);
/* References n bytes at p in place (0, or -1 out of memory). */
int rl_encoded_blob(rl_encoded_t *e, const void *p, size_t n);
/* As rl_encoded_blob, taking p (malloc'd): freed with the encoding, or at once on -1. */
int rl_encoded_blob_owned(rl_encoded_t *e, void *p, size_t n);
rl_encoded_t *rl_encoded_new(void);

/* The protected halves (lua_CFunction: value or keeper at 1, state pointer at 2). */
int rl_codec_encode_protected(lua_State *L);
int rl_codec_decode_protected(lua_State *L);

/* Selftest helpers (codec.c): a state with the standard libraries and global `rayl`
 * holding rl_codec_open's fields; running a chunk named "@x.lua" that leaves its one
 * result on top (0, or -1 after logging the error); encoding the top (popped) into a
 * malloc'd buffer of *n bytes (NULL on failure). */
lua_State *rl_codec_test_state(void);
int rl_codec_test_run(lua_State *L, const char *src);
unsigned char *rl_codec_test_encode(lua_State *L, size_t *n);

#endif
