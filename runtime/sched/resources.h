/* resources.h: resource maps (CPU, GPU, memory, custom names) with fractional amounts
 * kept exactly as fixed-point integers, and the arithmetic the schedulers need (plain C:
 * wire/res_pack.h puts them on the wire). */
#ifndef RL_RESOURCES_H
#define RL_RESOURCES_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RL_RES_MAX 16       /* distinct resource names in one map */
#define RL_RES_NAME 32      /* longest name, with its NUL */
#define RL_RES_UNIT 10000   /* amounts are stored in 1/10000 units: 0.5 CPU = 5000 */

typedef struct {
  char name[RL_RES_NAME];
  int64_t amount; /* fixed-point, RL_RES_UNIT per whole unit; never negative */
} rl_resource_t;

typedef struct {
  int n;
  rl_resource_t r[RL_RES_MAX];
} rl_resources_t;

void rl_res_clear(rl_resources_t *m);
/* Sets name to amount (rounded to 1/10000). An amount of 0 removes the name.
 * Returns 0, or -1 with a message in err if the name is empty, too long or has
 * characters outside [A-Za-z0-9_:.-], the amount is negative or not finite or over
 * 1e12, or the map is full. */
int rl_res_set(rl_resources_t *m, const char *name, double amount, char *err, size_t errlen);
/* Same, for a name of n bytes that need not be NUL-terminated (read from the wire). */
int rl_res_set_n(rl_resources_t *m, const char *name, size_t n, double amount, char *err, size_t errlen);
/* The amount of name (0 if absent), in whole units. */
double rl_res_get(const rl_resources_t *m, const char *name);
/* The amount of name (0 if absent), exactly: in 1/RL_RES_UNIT units. */
int64_t rl_res_fixed(const rl_resources_t *m, const char *name);
/* True if every amount in req is available in avail. */
bool rl_res_fits(const rl_resources_t *avail, const rl_resources_t *req);
/* avail -= req (caller checked rl_res_fits; asserts it). */
void rl_res_sub(rl_resources_t *avail, const rl_resources_t *req);
/* avail += req. Returns 0, or -1 if the map is full. */
int rl_res_add(rl_resources_t *avail, const rl_resources_t *req);
bool rl_res_equal(const rl_resources_t *a, const rl_resources_t *b);
/* Writes "CPU: 2, GPU: 0.5, sim: 4" into buf (always NUL-terminated). */
void rl_res_format(const rl_resources_t *m, char *buf, size_t n);

#endif
