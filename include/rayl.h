/* rayl.h: the C API of librayl, for C and C++ hosts that own their main loop (game
 * engines, simulators): run Lua functions on a rayl cluster as jobs and consume their
 * results from a frame loop without ever waiting on them.
 *
 * Model (a job system, as engines already use)
 *   rayl_open starts a private local cluster (or joins one started with `rayl start`)
 *   and returns a context. rayl_submit_call / rayl_submit_chunk return a handle at once;
 *   the job runs in a worker process (a LuaJIT state). The host calls rayl_update once a
 *   frame: it takes in what has arrived and runs the callbacks of finished jobs, on the
 *   host's thread, within a time budget, and never blocks. rayl_status, rayl_wait,
 *   rayl_cancel, rayl_get and rayl_get_result serve hosts that prefer to poll.
 *
 *     rayl_ctx *ctx;
 *     if (rayl_open(NULL, &ctx) != RAYL_OK) { fprintf(stderr, "%s\n", rayl_last_error()); ... }
 *     rayl_buf args;
 *     rayl_buf_init(&args);
 *     rayl_pack_array(&args, 2); rayl_pack_int(&args, 6); rayl_pack_int(&args, 7);
 *     rayl_submit_chunk(ctx, "local a, b = ... return a * b", args.data, args.len, on_done, NULL, NULL);
 *     rayl_buf_free(&args);
 *     for (;;) { ...frame...; rayl_update(ctx, 1000); }      on_done runs in rayl_update
 *     rayl_close(ctx);
 *
 * Threads
 *   A context belongs to the thread that opened it. Every call that takes a context
 *   must come from that thread, else it returns RAYL_E_THREAD and changes nothing.
 *   Nothing runs in the background: progress happens inside rayl_update and rayl_wait
 *   (and rayl_close), and callbacks run only inside rayl_update. No Lua state exists in
 *   the host process; all Lua runs in the cluster's worker processes. The private
 *   cluster's processes end when the opening thread ends (they also watch the host's
 *   pid), so open the context on a thread that lives as long as it.
 *
 * Values
 *   Arguments and results are msgpack (https://msgpack.org): the arguments of a job are
 *   one msgpack array, element i becoming argument i + 1 of the Lua function; its
 *   result is the msgpack encoding of the function's first return value. Workers see
 *   nil, booleans, integers and floats (as Lua numbers), str and bin (as Lua strings),
 *   arrays (as tables 1..n) and maps (as tables). Results that are plain data come back
 *   as the same kinds (a Lua table with keys exactly 1..n is an array, any other table
 *   a map; integral numbers are ints); functions, shared sub-tables and other Lua
 *   values appear as msgpack ext objects, which rayl_read_skip steps over. The
 *   rayl_buf / rayl_reader helpers below write and read msgpack; any msgpack library
 *   works as well. rayl_pack_handle puts an object (a rayl_put, or another job's result)
 *   in the argument list: the worker gets its value, and the job waits for it.
 *
 * Handles
 *   A rayl_handle names one job or one stored object of one context; 0
 *   (RAYL_NO_HANDLE) is never valid. A handle with a callback is released
 *   automatically when its callback returns; any other handle stays valid until
 *   rayl_release. A released handle is stale: every call given it returns
 *   RAYL_E_HANDLE (as do handles of another context), never a crash.
 *
 * Errors
 *   Functions return RAYL_OK (0), RAYL_PENDING (1), or a negative RAYL_E_* code;
 *   rayl_last_error() then says what happened and what to do, for the calling thread.
 *   A job that fails reports its own code (RAYL_E_TASK, RAYL_E_NOT_FOUND, ...) with the
 *   message and the worker's traceback in its rayl_result.
 *
 * Costs
 *   Submissions and small results travel inline in messages. A value of 100 KiB or
 *   more (a rayl_put, an argument, a result) lives in a node's shared-memory store:
 *   storing or reading one makes one round trip to the local node manager (well under
 *   a millisecond; a result made on another node is first pulled here), and a large
 *   result is read when its callback is about to run. Keep per-frame results small;
 *   put large data once and pass its handle to many jobs.
 *
 * Versions
 *   RAYL_VERSION* below say which header a program was built with; rayl_version()
 *   which library it runs with. Every function is exported from librayl.so with the
 *   symbol version RAYL_1.0: a later release that changes a function keeps this one
 *   under RAYL_1.0 and adds the new one under a new version, so programs built against
 *   this header keep working. Build with `pkg-config --cflags --libs rayl`.
 *
 * The header compiles as C99 and as C++. */
#ifndef RAYL_H
#define RAYL_H

#include <stddef.h>
#include <stdint.h>

#define RAYL_VERSION_MAJOR 0
#define RAYL_VERSION_MINOR 1
#define RAYL_VERSION_PATCH 0
#define RAYL_VERSION "0.1.0"
/* major * 10000 + minor * 100 + patch */
#define RAYL_VERSION_NUM (RAYL_VERSION_MAJOR * 10000 + RAYL_VERSION_MINOR * 100 + RAYL_VERSION_PATCH)

#ifdef __cplusplus
extern "C" {
#endif

/* ---- codes ---- */
enum rayl_code {
  RAYL_OK = 0,
  RAYL_PENDING = 1,      /* the job has not finished yet (not an error) */
  /* misuse and environment */
  RAYL_E_ARG = -1,       /* a NULL or malformed argument (bad msgpack, bad config) */
  RAYL_E_THREAD = -2,    /* called from a thread that does not own the context */
  RAYL_E_CLOSED = -3,    /* the context was closed by rayl_close */
  RAYL_E_HANDLE = -4,    /* a 0, stale (released) or foreign handle */
  RAYL_E_STATE = -5,     /* not allowed now (e.g. rayl_update from inside a callback) */
  RAYL_E_TIMEOUT = -6,   /* rayl_wait: the job did not finish in time */
  RAYL_E_CONNECT = -7,   /* rayl_open: cannot start or reach the cluster */
  RAYL_E_NOMEM = -8,     /* out of memory, or the object store is full */
  RAYL_E_TYPE = -9,      /* the value is not of the type asked for (rayl_get, rayl_read_*) */
  /* the outcome of a job */
  RAYL_E_TASK = -20,      /* the Lua code raised an error (or its result cannot travel) */
  RAYL_E_NOT_FOUND = -21, /* the module or function does not exist on the worker */
  RAYL_E_CANCELLED = -22, /* rayl_cancel stopped it */
  RAYL_E_SYSTEM = -23     /* the cluster lost it: worker crashed, node died, object lost */
};

/* A short, static description of a code ("RAYL_E_THREAD: ..."). Never NULL. */
const char *rayl_strerror(int code);
/* What the last failing rayl_* call on this thread said: what happened and what to do.
 * Valid until the next failing call on this thread. Never NULL ("" if none). */
const char *rayl_last_error(void);
/* The library's version, e.g. "0.1.0" (compare with RAYL_VERSION). */
const char *rayl_version(void);

/* ---- contexts ---- */
typedef struct rayl_ctx rayl_ctx;

typedef struct rayl_config {
  /* NULL or "": start a private local cluster, stopped by rayl_close. "auto" (the
   * cluster `rayl start` runs on this machine) or "HOST:PORT" (its head): join that
   * cluster; it needs a node on this machine. */
  const char *address;
  /* Private cluster: how many CPUs jobs may use at once (one job takes one CPU);
   * 0: all cores. Leave one for the host's own loop. */
  double num_cpus;
  /* Private cluster: object store size in bytes; 0: the default. */
  size_t object_store_memory;
  /* Lua package.path templates added in front on the workers before a job's module is
   * required, e.g. "/game/lua/?.lua;/game/lua/?/init.lua". NULL: none. Use absolute
   * paths: workers do not share the host's working directory on other machines. */
  const char *module_path;
  /* The rayl program that runs the cluster's processes. NULL: $RAYL_BIN, else the one
   * this library was built or installed with. */
  const char *rayl_program;
  /* Nonzero: do not print workers' stdout/stderr on the host's (by default each line
   * is printed with a "(pid=N) " prefix during rayl_update). */
  int quiet;
  /* Private cluster: added to the nice value of its processes (head, node manager,
   * workers), 0 to 19. With e.g. 10 jobs run on the CPU time the host's own loop
   * leaves, instead of taking turns with it on a busy machine. 0: same as the host. */
  int nice;
} rayl_config;

/* Fills *config with the defaults (all of the above 0 / NULL). */
void rayl_config_init(rayl_config *config);

/* Opens a context for the calling thread (config NULL: defaults) and sets *out.
 * Starting a private cluster takes a few hundred milliseconds. Returns RAYL_OK, or
 * RAYL_E_ARG (out NULL, a bad config field) or RAYL_E_CONNECT (the cluster cannot be
 * started or reached; rayl_last_error() says why and where the logs are) with *out
 * set to NULL. */
int rayl_open(const rayl_config *config, rayl_ctx **out);

/* Closes the context: callbacks not yet run never run, every handle becomes invalid,
 * the private cluster is stopped (this waits for its processes, up to ~2 s). The
 * pointer stays safe to pass: every later call, rayl_close included, returns
 * RAYL_E_CLOSED. A few hundred bytes per closed context are kept for that. */
int rayl_close(rayl_ctx *ctx);

/* ---- jobs ---- */
typedef uint64_t rayl_handle;
#define RAYL_NO_HANDLE ((rayl_handle)0)

/* How a job ended, as given to its callback (or filled by rayl_get_result). Pointers
 * are valid until the handle is released (for a callback: until it returns). */
typedef struct rayl_result {
  int code;              /* RAYL_OK, or the job's failure code (RAYL_E_TASK, ...) */
  const void *data;      /* RAYL_OK: msgpack of the function's first return value */
  size_t len;            /*   (a function that returns nothing gives msgpack nil) */
  const char *error;     /* failure: "<type>: <message>", e.g. "TaskError: task
                            ai.plan failed: ai.lua:12: attempt to index a nil value";
                            NULL on success */
  const char *traceback; /* failure in Lua code: the worker's stack traceback, else NULL */
} rayl_result;

/* Runs inside rayl_update on the context's thread, once per job, when it has ended.
 * It may submit, put, query, cancel and release other handles; rayl_update, rayl_wait
 * and rayl_close return RAYL_E_STATE from inside it. The handle is released when it
 * returns. */
typedef void (*rayl_callback)(rayl_ctx *ctx, rayl_handle handle, const rayl_result *result, void *user);

/* Submits a call of require(module)[function](args...) on a worker and returns at once.
 * args: a msgpack array of the arguments (NULL / 0: none). cb: called from rayl_update
 * when the job ends, with user (NULL: no callback; poll with rayl_status and release
 * the handle with rayl_release). out: receives the handle (may be NULL when cb is set:
 * the handle is then only seen by the callback). The job takes one CPU; it is retried
 * up to 3 times if its worker dies, never when the Lua code raises. A module or
 * function missing on the worker ends the job with RAYL_E_NOT_FOUND. Returns RAYL_OK,
 * RAYL_E_ARG (NULL or empty names, malformed args: nothing is submitted) or
 * RAYL_E_NOMEM. */
int rayl_submit_call(rayl_ctx *ctx, const char *module, const char *function, const void *args, size_t args_len,
                     rayl_callback cb, void *user, rayl_handle *out);

/* Like rayl_submit_call, for a Lua source chunk: the chunk runs as a function whose
 * `...` are the arguments; its first return value is the result. Workers compile each
 * distinct source once and keep up to 256 of them. A chunk that does not compile ends the job with
 * RAYL_E_TASK ("the chunk does not compile: ..."). */
int rayl_submit_chunk(rayl_ctx *ctx, const char *source, const void *args, size_t args_len, rayl_callback cb,
                      void *user, rayl_handle *out);

/* Stores len bytes (copied) as an object of the cluster and sets *out to its handle,
 * ready at once. Pass it to jobs with rayl_pack_handle (they get a Lua string); read
 * it back with rayl_get; free it with rayl_release. Returns RAYL_OK, RAYL_E_ARG or
 * RAYL_E_NOMEM (the store is full). */
int rayl_put(rayl_ctx *ctx, const void *data, size_t len, rayl_handle *out);

/* Takes in whatever has arrived (never waiting for more), then runs due callbacks, in
 * the order their jobs ended, while less than budget_us microseconds have passed since
 * the call began (0: take in only, run none). Callbacks left over run in the next
 * call. Returns how many callbacks ran, or a negative code. */
int rayl_update(rayl_ctx *ctx, uint32_t budget_us);

/* A job's state as of the last rayl_update / rayl_wait: RAYL_PENDING, RAYL_OK, or its
 * failure code (RAYL_E_TASK, RAYL_E_NOT_FOUND, RAYL_E_CANCELLED, RAYL_E_SYSTEM,
 * RAYL_E_NOMEM). A put object is RAYL_OK. Never blocks. RAYL_E_HANDLE etc. for misuse. */
int rayl_status(rayl_ctx *ctx, rayl_handle handle);

/* Blocks until the job has ended (any outcome: see rayl_status) or timeout_ms passed
 * (< 0: no limit). Runs no callbacks. Not for frame loops. Returns RAYL_OK,
 * RAYL_E_TIMEOUT, or a misuse code. */
int rayl_wait(rayl_ctx *ctx, rayl_handle handle, int timeout_ms);

/* Cancels a job: one that has not started never runs; a running one's result is
 * discarded, and with force nonzero its worker is killed (a job stuck in a loop). The
 * job ends with RAYL_E_CANCELLED (its callback still runs). No effect on a job that
 * has already ended. Returns RAYL_OK, RAYL_E_ARG for a put object, or a misuse code. */
int rayl_cancel(rayl_ctx *ctx, rayl_handle handle, int force);

/* Points *data at the bytes of a string value: a rayl_put object, or a job that
 * returned a Lua string. Valid until the handle is released. Returns RAYL_OK,
 * RAYL_PENDING, the job's failure code (message in rayl_last_error()), or RAYL_E_TYPE
 * if the value is not a string (read it with rayl_get_result). */
int rayl_get(rayl_ctx *ctx, rayl_handle handle, const void **data, size_t *len);

/* Fills *out with how the job ended (as its callback would see it). Returns RAYL_OK
 * (whatever the job's outcome: see out->code), RAYL_PENDING, or a misuse code. */
int rayl_get_result(rayl_ctx *ctx, rayl_handle handle, rayl_result *out);

/* Releases a handle: its callback (if it has not run) never runs, the object is freed
 * once nothing needs it (a job still running finishes, and its result is dropped).
 * Returns RAYL_OK or a misuse code. */
int rayl_release(rayl_ctx *ctx, rayl_handle handle);

/* ---- msgpack writing ---- */
/* A growable buffer: data / len hold what was written so far. Zero it or
 * rayl_buf_init it; rayl_buf_free it. failed is set once a write runs out of memory
 * (later writes do nothing). */
typedef struct rayl_buf {
  unsigned char *data;
  size_t len, cap;
  int failed;
} rayl_buf;

void rayl_buf_init(rayl_buf *b);
/* Empties the buffer, keeping its memory for reuse. */
void rayl_buf_reset(rayl_buf *b);
void rayl_buf_free(rayl_buf *b);
/* Each writes one msgpack value (array and map write a header: n values, or n key and
 * value pairs, must follow). Return RAYL_OK, or RAYL_E_NOMEM (b->failed set). */
int rayl_pack_nil(rayl_buf *b);
int rayl_pack_bool(rayl_buf *b, int v);
int rayl_pack_int(rayl_buf *b, int64_t v);
int rayl_pack_double(rayl_buf *b, double v);
int rayl_pack_str(rayl_buf *b, const char *s); /* NUL-terminated (NULL: nil) */
int rayl_pack_lstr(rayl_buf *b, const void *s, size_t n);
int rayl_pack_array(rayl_buf *b, uint32_t n);
int rayl_pack_map(rayl_buf *b, uint32_t n);
/* An object (a rayl_put, or a job's result) as a top-level job argument: the worker
 * gets its value (a put's bytes as a string), and the job starts once it is ready. */
int rayl_pack_handle(rayl_buf *b, rayl_handle h);

/* ---- msgpack reading ---- */
/* A cursor over one or more msgpack values (e.g. rayl_result.data, len). */
typedef struct rayl_reader {
  const unsigned char *p, *end;
} rayl_reader;

enum rayl_type {
  RAYL_T_END = 0, /* nothing left */
  RAYL_T_NIL,
  RAYL_T_BOOL,
  RAYL_T_INT,
  RAYL_T_FLOAT,
  RAYL_T_STR,     /* str or bin */
  RAYL_T_ARRAY,
  RAYL_T_MAP,
  RAYL_T_EXT,     /* another kind of Lua value; skip it */
  RAYL_T_BAD      /* malformed input */
};

void rayl_reader_init(rayl_reader *r, const void *data, size_t len);
/* The type of the next value (RAYL_T_*), without moving. */
int rayl_read_type(const rayl_reader *r);
/* Each reads the next value and moves past it. They return RAYL_OK; RAYL_E_TYPE if
 * the next value is of another type (nothing moves); RAYL_E_ARG if it is malformed,
 * truncated, or there is none. read_int takes integers and integral floats within
 * int64; read_double takes any number. read_str points into the buffer (not
 * NUL-terminated). read_array / read_map read the header: then read n values, or n key
 * and value pairs. */
int rayl_read_nil(rayl_reader *r);
int rayl_read_bool(rayl_reader *r, int *v);
int rayl_read_int(rayl_reader *r, int64_t *v);
int rayl_read_double(rayl_reader *r, double *v);
int rayl_read_str(rayl_reader *r, const char **s, size_t *n);
int rayl_read_array(rayl_reader *r, uint32_t *n);
int rayl_read_map(rayl_reader *r, uint32_t *n);
/* Moves past the next value, whatever it is (with everything inside it). */
int rayl_read_skip(rayl_reader *r);

#ifdef __cplusplus
}
#endif

#endif
