/* interrupt.c: async-signal-safe handlers that only record the signal. */
#include "common/interrupt.h"

#include <string.h>

volatile sig_atomic_t rl_interrupted;

static void s_on_signal(int sig) { rl_interrupted = sig; }

void rl_interrupt_install(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = s_on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
}
