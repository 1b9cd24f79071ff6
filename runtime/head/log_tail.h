/* log_tail.h: the dashboard's view of a log: its last lines holding a search text, as
 * JSON, from the file's tail read here (the head's logs) or by a node manager. */
#ifndef RL_LOG_TAIL_H
#define RL_LOG_TAIL_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/json.h"

/* Writes {"name", "size", "lines": [...]} into j: the last `lines` lines of buf[0..len)
 * (the end of a file of size bytes) that contain search (NULL: any), oldest first.
 * partial_first: buf starts inside the file, so its first line is cut and left out.
 * buf must have room for a NUL at buf[len]; its bytes are changed. */
void rl_log_tail_json(rl_json_t *j, const char *name, uint64_t size, char *buf, size_t len, bool partial_first,
                      long lines, const char *search);

#endif
