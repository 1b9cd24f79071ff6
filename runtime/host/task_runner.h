/* task_runner.h: running one task pushed to this worker on a Lua state (the worker's
 * main state, or a coroutine of it for concurrent actors). */
#ifndef RL_TASK_RUNNER_H
#define RL_TASK_RUNNER_H
#include <lua.h>

#include "worker/core_worker.h"

/* Pushes onto L the Lua entry for t (rayl.worker's run, create_actor or call_actor)
 * and its arguments: the function or class or method name, the task name, the task's
 * arguments. Returns how many arguments follow the entry, or -1 if t was already
 * reported as failed (bad function, cancelled, unreadable argument). */
int rl_task_prepare(rl_cw_t *cw, lua_State *L, const rl_cw_task_t *t);
/* Reports the outcome the entry left on L above base ([ok, results...]). */
void rl_task_complete(rl_cw_t *cw, lua_State *L, int base, const rl_cw_task_t *t);
/* Reports t as failed with a rayl error of the given type. */
void rl_task_fail(rl_cw_t *cw, lua_State *L, const rl_cw_task_t *t, const char *type, const char *message);

#endif
