/* redact.h: a runtime_env's canonical text as logs may show it: env_vars values hidden. */
#ifndef RL_REDACT_H
#define RL_REDACT_H
#include <stddef.h>

/* Writes spec (the canonical runtime_env text: "working_dir=KEY" and "env:NAME=VALUE"
 * lines) into out as one line, "; " between its lines, each env_vars value replaced by
 * "(hidden)": values may be secrets, and logs outlive them. Truncated to fit n. Returns
 * out. */
const char *rl_renv_redact(const char *spec, char *out, size_t n);

#endif
