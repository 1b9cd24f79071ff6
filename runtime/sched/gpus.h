/* gpus.h: a node's GPU devices as instances (Ray's resource instances): the share of
 * each device that is free, and which devices a request for num_gpus gets: a fraction
 * is packed onto one device, a whole number takes that many distinct free devices
 * (pure logic: no I/O, no state). */
#ifndef RL_GPUS_H
#define RL_GPUS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sched/resources.h"

#define RL_GPU_MAX 64 /* devices on one node */

/* Devices with their free share. A node's set has every device at cap RL_RES_UNIT; a
 * placement group bundle's has the devices (or the share of one) it reserved. */
typedef struct {
  int n;
  int id[RL_GPU_MAX];       /* device ids, as CUDA_VISIBLE_DEVICES names them */
  int64_t cap[RL_GPU_MAX];  /* the share of the device this set holds (1/RL_RES_UNIT) */
  int64_t free[RL_GPU_MAX]; /* the share not taken, <= cap */
} rl_gpus_t;

/* What a request takes: `count` devices, `share` of each (RL_RES_UNIT: whole). */
typedef struct {
  int count;
  int64_t share;
} rl_gpu_ask_t;

/* Some device ids: those a worker is bound to, or a pick. */
typedef struct {
  int n;
  int id[RL_GPU_MAX];
} rl_gpu_set_t;

/* Reads a node's GPU count as --num-gpus gives it (text): a whole number from 0 to
 * RL_GPU_MAX. Returns 0 with *n, or -1 with a message naming the option and value. */
int rl_gpus_parse_count(const char *text, int *n, char *err, size_t errlen);
/* Sets g to n whole free devices (n <= RL_GPU_MAX) with these ids (NULL: 0..n-1). */
void rl_gpus_init(rl_gpus_t *g, int n, const int *ids);
/* Turns an amount of GPU (fixed point, as rl_res_fixed gives) into an ask: 0 asks for
 * nothing; below one unit, that share of one device; a whole k, k whole devices.
 * Returns 0, or -1 with a message if the amount is over one unit and not whole (as
 * Ray requires). */
int rl_gpus_ask(int64_t amount, rl_gpu_ask_t *ask, char *err, size_t errlen);
/* Chooses devices for ask (count > 0) in g, without changing g: a fraction goes to the
 * device with the least free share that holds it (so fractions pack), a whole number
 * to the free devices of lowest index. Returns 0 with out filled, or -1 if g cannot
 * hold it now. */
int rl_gpus_pick(const rl_gpus_t *g, const rl_gpu_ask_t *ask, rl_gpu_set_t *out);
/* True if the devices on (exactly ask->count of them, all in g) each have ask->share
 * free now. */
bool rl_gpus_fits(const rl_gpus_t *g, const rl_gpu_ask_t *ask, const rl_gpu_set_t *on);
/* How much of the devices on has free: the least free share among them (0 if one is
 * not in g). For choosing among workers bound to devices: the fullest that fits. */
int64_t rl_gpus_least_free(const rl_gpus_t *g, const rl_gpu_set_t *on);
/* Takes share of each device of on (the caller checked rl_gpus_fits; asserts it). */
void rl_gpus_take(rl_gpus_t *g, const rl_gpu_set_t *on, int64_t share);
/* Gives share of each device of on back (asserts each is in g and stays <= its cap). */
void rl_gpus_give(rl_gpus_t *g, const rl_gpu_set_t *on, int64_t share);
/* Reserves ask out of node for a placement group bundle: picks devices, takes them and
 * sets bundle to those devices with cap and free the share taken. Returns 0, or -1
 * (nothing changed) if node cannot hold it now. ask->count 0 makes an empty bundle. */
int rl_gpus_reserve(rl_gpus_t *node, const rl_gpu_ask_t *ask, rl_gpus_t *bundle);
/* Gives a bundle's reservation back to node (its caps, whatever its workers took). */
void rl_gpus_unreserve(rl_gpus_t *node, const rl_gpus_t *bundle);
/* The sum of the free shares (equals the pool's GPU amount while nothing is lent). */
int64_t rl_gpus_free_total(const rl_gpus_t *g);
bool rl_gpu_set_equal(const rl_gpu_set_t *a, const rl_gpu_set_t *b);
/* Writes the ids as CUDA_VISIBLE_DEVICES takes them ("0,1"; "" for none) into buf
 * (always NUL-terminated). */
void rl_gpu_set_format(const rl_gpu_set_t *s, char *buf, size_t n);
/* Reads a list of device numbers ("3,5", as in CUDA_VISIBLE_DEVICES) into ids (at
 * most max). Returns how many, or -1 if text is not such a list (e.g. GPU UUIDs). */
int rl_gpu_ids_parse(const char *text, int *ids, int max);

#endif
