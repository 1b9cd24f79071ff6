/* local_cluster.h: a private head + node manager started for one driver and torn down
 * with it (on every exit path: the daemons also watch the driver's pid). */
#ifndef RL_LOCAL_CLUSTER_H
#define RL_LOCAL_CLUSTER_H
#include <stddef.h>

typedef struct rl_local_cluster_t rl_local_cluster_t;

typedef struct {
  const char *rayl_bin;        /* the rayl program that runs the daemons */
  double num_cpus;             /* < 0: all cores */
  double num_gpus;             /* < 0: those the CUDA driver finds; else a whole number */
  const char *resources[16];   /* "name=amount" strings, NULL-terminated */
  size_t object_store_memory;  /* 0: the node's default */
  int nice;                    /* added to the daemons' (and so the workers') nice value */
} rl_local_opts_t;

/* Creates a session folder in this user's base folder ($RAYL_TMPDIR or /tmp/rayl-<uid>,
 * checked by rl_base_dir; the folder is rl_session_new's: held until stopped, rotated
 * after) with logs/ and sockets/ (mode 0700), and starts the head and one node manager
 * in it. Returns NULL with a message in err if either cannot start. */
rl_local_cluster_t *rl_local_cluster_start(const rl_local_opts_t *opts, char *err, size_t errlen);
/* The node manager's address (borrowed). */
const char *rl_local_cluster_node(const rl_local_cluster_t *c);
const char *rl_local_cluster_session(const rl_local_cluster_t *c);
/* Stops the daemons (SIGTERM, then SIGKILL after 2 s), removes the socket folder and
 * frees; nulls *p; safe twice. Logs stay in the session folder. */
void rl_local_cluster_stop(rl_local_cluster_t **p);

#endif
