/* interrupt.h: the one flag signal handlers set; blocking loops check it and unwind. */
#ifndef RL_INTERRUPT_H
#define RL_INTERRUPT_H
#include <signal.h>

/* 0, or the number of the last SIGINT/SIGTERM received by a process whose main
 * installed rl_interrupt_install. Blocking waits (get, wait) return early when it is
 * set, and the Lua layer raises an "interrupted" error. */
extern volatile sig_atomic_t rl_interrupted;

/* Installs handlers for SIGINT and SIGTERM that set rl_interrupted (and nothing else,
 * so they are async-signal-safe). */
void rl_interrupt_install(void);

#endif
