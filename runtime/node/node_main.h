/* node_main.h: the node manager process: worker pool, leases, the node's object store. */
#ifndef RL_NODE_MAIN_H
#define RL_NODE_MAIN_H

/* Runs the node manager until SIGTERM/SIGINT or its parent (--parent-pid) dies.
 * Arguments: see `rayl node --help`. Returns the process exit code. */
int rl_node_main(int argc, char **argv);

#endif
