/* main.c: the rayl program: dispatches to the script runner, commands and daemons. */
#include "cli/cli.h"
#include "gcs/gcs.h"
#include "host/worker_main.h"
#include "node/node_main.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

typedef int (*s_main_fn)(int argc, char **argv);

/* Commands run in place of a script: the daemons take argv from their name on. */
static const struct {
  const char *name;
  s_main_fn fn;
} s_daemons[] = {
    {"head", rl_gcs_main},
    {"node", rl_node_main},
    {"worker", rl_worker_main},
};

#define S_COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* Prints the usage text to `out`. */
static void s_usage(FILE *out) {
  fputs(
      "usage: rayl [options]... [script [args]...]\n"
      "       rayl COMMAND [args]...\n"
      "\n"
      "Scripts (rayl is a drop-in LuaJIT interpreter: `arg`, `...`, exit codes):\n"
      "  rayl script.lua [args...]   run a driver (a private local cluster unless\n"
      "                              --address or RAYL_ADDRESS names a live one)\n"
      "  rayl                        the REPL when stdin is a terminal (else run stdin)\n"
      "  --address A  the cluster to join: HOST:PORT of its head, or auto (sets\n"
      "               RAYL_ADDRESS)\n"
      "  -e chunk     execute string 'chunk' (several allowed, run in order)\n"
      "  -l name      require library 'name'\n"
      "  -b ...       save or list bytecode (as luajit -b)\n"
      "  -j cmd       perform a LuaJIT control command\n"
      "  -O[opt]      control LuaJIT optimizations\n"
      "  -E           ignore environment variables (LUA_INIT)\n"
      "  -i           enter the REPL after running the script or -e chunks\n"
      "  -v, --version  show version information\n"
      "  -h, --help   show this help\n"
      "  --           stop handling options\n"
      "  -            execute stdin and stop handling options\n"
      "\n"
      "Commands:\n"
      "  repl [--address A]          the REPL: line editing, history, Tab completion,\n"
      "                              Ctrl-C stops a running line; :help inside\n"
      "  microbenchmark [--json] [--filter SUBSTRING] [--seconds S]\n"
      "                              Ray's microbenchmark suite, same metric names\n"
      "  start --head [--port 6380] [--num-cpus N] [--num-gpus N] [--resources JSON]\n"
      "  start --address HOST:PORT [--cluster-key FILE] [--num-cpus N] [--resources JSON]\n"
      "                              a long-lived cluster (see rayl start --help)\n"
      "  status [--address HOST:PORT] [--cluster-key FILE] [--format json]\n"
      "                              the cluster's nodes, their resources, waiting demands\n"
      "  list nodes|tasks|actors|objects [--format json] [--filter KEY=VALUE] [--limit N]\n"
      "                              the state API (see rayl list --help)\n"
      "  dashboard [--address HOST:PORT] [--no-token]\n"
      "                              the URL of the dashboard the head serves\n"
      "  stack [--node N]            each driver's and worker's task and Lua traceback\n"
      "  memory [--group-by node|owner] [--sort-by size|age]\n"
      "                              objects: size, owner, references, call site\n"
      "  timeline [-o trace.json]    task and actor-method runs as a Chrome trace\n"
      "  logs [--follow] [PATTERN]   search (and follow) the cluster's logs\n"
      "  stop                        stop this machine's head/node processes\n"
      "  path                        LUA_PATH/LUA_CPATH exports for other LuaJIT hosts\n"
      "                              (eval \"$(rayl path)\"; then require \"rayl\" works)\n"
      "  job submit [--address A] [--working-dir D] [--runtime-env-json JSON] [--no-wait]\n"
      "             [--submission-id ID] -- script.lua [args]\n"
      "  job status|logs|stop ID, job list [--format json]\n"
      "                              run drivers on a cluster (see rayl job --help)\n"
      "  rl train ENV_ID [--stop-return R] [--runners N] [--envs-per-runner N]\n"
      "           [--seed S] [--max-steps N] [--save PATH]\n"
      "                              PPO on an environment, a line per iteration\n"
      "  Every command takes --help (its options); unknown options are errors (exit 2).\n"
      "\n"
      "Internal (started by rayl itself):\n"
      "  head ARGS                   the head process (cluster control store)\n"
      "  node ARGS                   a node manager (worker pool, object store)\n"
      "  worker ARGS                 a worker process (one LuaJIT state)\n"
      "  job-supervisor ARGS         runs one job's driver for the head\n",
      out);
}

static int s_is_file(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && !S_ISDIR(st.st_mode);
}

static int s_ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && strcmp(s + n - m, suffix) == 0;
}

int main(int argc, char **argv) {
  if (rl_cli_export_bin() != 0)
    rl_cli_message("warning: cannot find this executable's path; RAYL_BIN not set");
  if (argc < 2 || argv[1][0] == '-')
    return rl_cli_run_lua(argc, argv, s_usage);

  const char *cmd = argv[1];
  if (s_is_file(cmd) || s_ends_with(cmd, ".lua"))
    return rl_cli_run_lua(argc, argv, s_usage);
  for (size_t i = 0; i < S_COUNT(s_daemons); i++)
    if (strcmp(cmd, s_daemons[i].name) == 0)
      return s_daemons[i].fn(argc - 1, argv + 1);
  if (strcmp(cmd, "start") == 0) return rl_cli_start(argc - 1, argv + 1);
  if (strcmp(cmd, "stop") == 0) return rl_cli_stop(argc - 1, argv + 1);
  if (strcmp(cmd, "status") == 0) return rl_cli_status(argc - 1, argv + 1);
  if (strcmp(cmd, "dashboard") == 0) return rl_cli_dashboard(argc - 1, argv + 1);
  if (strcmp(cmd, "path") == 0) return rl_cli_path(argc - 1, argv + 1);
  if (strcmp(cmd, "job") == 0) return rl_cli_run_module(argc - 1, argv + 1, "rayl.job_cli");
  if (strcmp(cmd, "rl") == 0) return rl_cli_run_module(argc - 1, argv + 1, "rayl.rl_cli");
  if (strcmp(cmd, "job-supervisor") == 0) return rl_cli_job_supervisor(argc - 1, argv + 1);
  if (strcmp(cmd, "repl") == 0) return rl_cli_repl(argc - 1, argv + 1);
  if (strcmp(cmd, "list") == 0) return rl_cli_run_module(argc - 1, argv + 1, "rayl.list");
  if (strcmp(cmd, "stack") == 0) return rl_cli_run_module(argc - 1, argv + 1, "rayl.stack_cli");
  if (strcmp(cmd, "memory") == 0) return rl_cli_run_module(argc - 1, argv + 1, "rayl.memory_cli");
  if (strcmp(cmd, "timeline") == 0) return rl_cli_run_module(argc - 1, argv + 1, "rayl.timeline_cli");
  if (strcmp(cmd, "logs") == 0) return rl_cli_run_module(argc - 1, argv + 1, "rayl.logs_cli");
  if (strcmp(cmd, "microbenchmark") == 0)
    return rl_cli_run_module(argc - 1, argv + 1, "rayl.microbenchmark");
  if (strcmp(cmd, "help") == 0) {
    s_usage(stdout);
    return 0;
  }
  fprintf(stderr, "rayl: unknown command or file '%s'; see rayl --help\n", cmd);
  return 2;
}
