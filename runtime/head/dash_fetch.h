/* dash_fetch.h: what the dashboard must ask other processes (each driver's and
 * worker's objects, other nodes' logs), asked by a thread of its own so the head's loop
 * never waits: a page's request gets the latest answer kept for its query and starts a
 * fresh one; the page, asking again every second, gets that. */
#ifndef RL_DASH_FETCH_H
#define RL_DASH_FETCH_H
#include <stddef.h>
#include <stdint.h>

#define RL_DASH_FETCH_MAX_AGE_MS 1000 /* an answer older than this is asked for again */

typedef struct rl_dash_fetch_t rl_dash_fetch_t;

/* A fetcher and its thread, or NULL if out of memory or no thread could start. */
rl_dash_fetch_t *rl_dash_fetch_new(void);
/* Stops the thread (waiting for a query in flight, at most a few seconds) and frees
 * everything; nulls *p, safe on NULL and twice. */
void rl_dash_fetch_destroy(rl_dash_fetch_t **p);

/* The latest answer (JSON, malloc'd, *len bytes; the caller frees it) to query, or NULL
 * when none is there yet; *age_ms: how old it is. Starts a fresh answer when the kept
 * one is older than RL_DASH_FETCH_MAX_AGE_MS. Queries:
 *   "memory" and the live nodes' endpoints (n of them): every object each driver and
 *     worker owns: {"objects": [{object_id, size (null: pending), owner_pid,
 *     owner_kind, node_id, address, refs, call_site, age_ms}...], "nodes": [{node_id,
 *     address, objects, bytes}...], "processes": N, "unanswered": N}
 *   "files" and one node's endpoint: that node's log files, {"node_id", "files":
 *     [{name, size, modified}...]}
 *   "tail\nNAME\nLINES\nSEARCH" and one node's endpoint: that log's last LINES lines
 *     holding SEARCH ("" any): {"name", "size", "lines": [...]}
 * An answer that failed is {"error": "..."}. */
char *rl_dash_fetch_get(rl_dash_fetch_t *f, const char *query, const char *const *endpoints, int n, size_t *len,
                        int64_t *age_ms);

#endif
