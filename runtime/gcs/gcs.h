/* gcs.h: the head process (global control store): node membership and liveness,
 * a small KV store, placement groups. Never on the per-task path. */
#ifndef RL_GCS_H
#define RL_GCS_H

/* Runs the head until SIGTERM/SIGINT or until its parent dies when started with
 * --parent-pid. Arguments: --endpoint ENDPOINT (bind address), --session DIR,
 * [--db PATH] (the SQLite file its tables are kept in; default DIR/gcs.sqlite3 with
 * --session, else memory only), [--parent-pid PID], [--heartbeat-timeout-ms N].
 * Returns the process exit code. */
int rl_gcs_main(int argc, char **argv);

#endif
