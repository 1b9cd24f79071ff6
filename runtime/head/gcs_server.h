/* gcs_server.h: the head's state (node table, KV, placement groups, jobs) and its
 * message loop over a bound ROUTER socket, apart from process concerns (arguments, log
 * file, signals) so a test can run it in a thread over inproc://. */
#ifndef RL_GCS_SERVER_H
#define RL_GCS_SERVER_H
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct {
  int64_t heartbeat_timeout_ms; /* a node silent this long is marked dead (> 0) */
  pid_t parent_pid;             /* return when this process is gone; 0: don't watch */
  size_t kv_max_bytes;          /* cap on the KV store's keys and values */
  const char *db_path;          /* SQLite file the tables are kept in (gcs_db.h); NULL:
                                 * memory only */
  const char *session_dir;      /* jobs' logs and working dirs; NULL: no jobs */
  const char *rayl_bin;         /* the rayl program, to start job drivers with */
  const char *address;          /* the head's endpoint as job drivers reach it */
  void *zctx;                   /* router's ZeroMQ context, for the sockets the head opens
                                 * to restart detached actors; NULL: it restarts none */
  const char *dashboard_host;   /* serve the dashboard (gcs/dashboard.h) there; NULL: don't */
  int dashboard_port;           /* 0: the default port (or the next free one) */
  const char *dashboard_token;  /* its access token */
} rl_gcs_opts_t;

#define RL_GCS_DEFAULT_HEARTBEAT_TIMEOUT_MS 5000
#define RL_GCS_DEFAULT_KV_MAX_BYTES ((size_t)256 << 20)
#define RL_GCS_TICK_MS 100 /* liveness and parent checks, and the longest poll */

/* Serves requests on router (a bound raw ZeroMQ ROUTER socket, still owned by the
 * caller, used only by this thread until the call returns) until *stop is non-zero,
 * rl_interrupted is set, or the parent is gone. With a db_path, starts from the tables
 * saved there and saves every change. Bad input is logged and dropped. Returns 0, or
 * -1 if the head's state can't be allocated or loaded, or the socket fails. */
int rl_gcs_serve(void *router, const rl_gcs_opts_t *opts, atomic_int *stop);

#endif
