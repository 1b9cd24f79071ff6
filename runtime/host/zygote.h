/* zygote.h: a worker process that has loaded LuaJIT and rayl once and forks ready
 * workers on request, so a new worker (an actor's, say) skips exec, dynamic linking
 * and Lua start-up. */
#ifndef RL_ZYGOTE_H
#define RL_ZYGOTE_H

/* The descriptor on which the node manager's requests arrive in a zygote. */
#define RL_ZYGOTE_FD 3

/* Serves fork requests on RL_ZYGOTE_FD until the node manager goes away. Each request
 * carries the new worker's stdout and stderr; the reply is its pid. Returns 0 in the
 * zygote when it is done (it should exit), 1 in each forked worker (which goes on to
 * connect and serve tasks, its parent being the node manager). */
int rl_zygote_serve(void);

#endif
