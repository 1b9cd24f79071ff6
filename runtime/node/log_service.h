/* log_service.h: the node manager's logs for other machines: RL_NM_LOGS lists the files
 * of its session's logs/ folder and reads a range of one (rayl logs, the dashboard). */
#ifndef RL_LOG_SERVICE_H
#define RL_LOG_SERVICE_H
#include "common/id.h"
#include "wire/msg.h"

#define RL_LOG_READ_MAX ((size_t)8 << 20) /* bytes of one RL_NM_LOGS read */

/* A log file's name as RL_NM_LOGS and the dashboard take it: letters, digits, '.',
 * '_', '-', not hidden, at most 200 characters (so no path leaves the folder). */
bool rl_log_name_ok(const char *name);

/* Answers RL_NM_LOGS (wire/proto.h) about the files in session_dir/logs, on the ROUTER
 * sock to the message's identity. A bad request is answered with its error. */
void rl_log_service_handle(void *sock, const rl_msg_t *m, const char *session_dir, const rl_id_t *node_id);

#endif
