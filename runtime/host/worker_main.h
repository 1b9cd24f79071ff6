/* worker_main.h: a worker process: one LuaJIT state running tasks pushed to it. */
#ifndef RL_WORKER_MAIN_H
#define RL_WORKER_MAIN_H

/* Runs a worker: registers with the node manager named by --node ENDPOINT and executes
 * tasks until the node manager goes away. Returns the process exit code. */
int rl_worker_main(int argc, char **argv);

#endif
