/* log_service.c: RL_NM_LOGS: a node's session logs, listed and read in ranges, for
 * `rayl logs` and the dashboard on other machines. */
#include "common/selftest.h"
#include "node/log_service.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "wire/proto.h"

bool rl_log_name_ok(const char *name) {
  if (!name[0] || name[0] == '.' || strlen(name) > 200) return false;
  for (const char *p = name; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '.' ||
          *p == '_' || *p == '-'))
      return false;
  return true;
}

static int s_cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Packs [[name, size, modified_ms]...] of dir's regular files with good names, sorted. */
static void s_pack_files(msgpack_packer *pk, const char *dir) {
  DIR *d = opendir(dir);
  char **names = NULL, path[PATH_MAX];
  size_t n = 0, cap = 0;
  for (struct dirent *e; d && (e = readdir(d));) {
    if (!rl_log_name_ok(e->d_name)) continue;
    if (n == cap) {
      size_t ncap = cap ? 2 * cap : 64;
      char **grown = realloc(names, ncap * sizeof *names);
      if (!grown) break;
      names = grown, cap = ncap;
    }
    if ((names[n] = strdup(e->d_name))) n++;
  }
  if (d) closedir(d);
  if (n) qsort(names, n, sizeof *names, s_cmp_str);
  struct stat *st = calloc(n ? n : 1, sizeof *st);
  uint32_t kept = 0;
  for (size_t i = 0; st && i < n; i++) {
    snprintf(path, sizeof path, "%s/%s", dir, names[i]);
    if (lstat(path, &st[i]) == 0 && S_ISREG(st[i].st_mode)) kept++;
    else st[i].st_mode = 0;
  }
  msgpack_pack_array(pk, kept);
  for (size_t i = 0; i < n; i++) {
    if (st && S_ISREG(st[i].st_mode)) {
      msgpack_pack_array(pk, 3);
      rl_pack_str(pk, names[i]);
      msgpack_pack_uint64(pk, (uint64_t)st[i].st_size);
      msgpack_pack_uint64(pk, (uint64_t)st[i].st_mtime * 1000);
    }
    free(names[i]);
  }
  free(st);
  free(names);
}

/* Sends RL_NM_LOG_DATA: [request, node_id, files, offset, data, error]. files_dir: list
 * that folder's files (NULL: none); data: NULL for none. */
static void s_reply(void *sock, const rl_msg_t *m, uint64_t request, const rl_id_t *node_id, const char *files_dir,
                    uint64_t offset, const char *data, size_t len, uint64_t size, const char *name,
                    const char *error) {
  rl_msgbuf_t b;
  rl_msgbuf_init_sized(&b, RL_NM_LOG_DATA, 6, 256 + len);
  msgpack_pack_uint64(&b.pk, request);
  rl_pack_id(&b.pk, node_id);
  if (files_dir) {
    s_pack_files(&b.pk, files_dir);
  } else if (name) { /* the file read, with its size now */
    msgpack_pack_array(&b.pk, 1);
    msgpack_pack_array(&b.pk, 3);
    rl_pack_str(&b.pk, name);
    msgpack_pack_uint64(&b.pk, size);
    msgpack_pack_uint64(&b.pk, 0);
  } else {
    msgpack_pack_array(&b.pk, 0);
  }
  msgpack_pack_uint64(&b.pk, offset);
  rl_pack_bin(&b.pk, data ? data : "", data ? len : 0);
  rl_pack_str(&b.pk, error ? error : "");
  if (rl_msg_send(sock, m->has_identity ? &m->identity : NULL, &b) != 0)
    rl_log(RL_LOG_DEBUG, "log reply for request %llu dropped (asker gone?)", (unsigned long long)request);
}

void rl_log_service_handle(void *sock, const rl_msg_t *m, const char *session_dir, const rl_id_t *node_id) {
  uint64_t request, max = RL_LOG_READ_MAX;
  int64_t offset = 0;
  char name[256], dir[PATH_MAX], path[PATH_MAX + 256];
  if (!rl_field_u64(m, 0, &request)) {
    rl_log(RL_LOG_WARN, "dropped a malformed log request");
    return;
  }
  snprintf(dir, sizeof dir, "%s/logs", session_dir);
  if (!rl_field(m, 1) || rl_field_is_nil(m, 1))
    return s_reply(sock, m, request, node_id, dir, 0, NULL, 0, 0, NULL, NULL);
  if (!rl_field_strcpy(m, 1, name, sizeof name) || !rl_log_name_ok(name))
    return s_reply(sock, m, request, node_id, NULL, 0, NULL, 0, 0, NULL,
                   "bad log file name: letters, digits, '.', '_' and '-' only");
  if (rl_field(m, 2) && !rl_field_i64(m, 2, &offset))
    return s_reply(sock, m, request, node_id, NULL, 0, NULL, 0, 0, NULL, "field 3 (offset) is not a whole number");
  if (rl_field(m, 3) && !rl_field_u64(m, 3, &max))
    return s_reply(sock, m, request, node_id, NULL, 0, NULL, 0, 0, NULL, "field 4 (max bytes) is not a count");
  if (max > RL_LOG_READ_MAX) max = RL_LOG_READ_MAX;
  snprintf(path, sizeof path, "%s/%s", dir, name);
  int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    if (fd >= 0) close(fd);
    char err[300];
    snprintf(err, sizeof err, "no log file '%s' on this node", name);
    return s_reply(sock, m, request, node_id, NULL, 0, NULL, 0, 0, NULL, err);
  }
  uint64_t size = (uint64_t)st.st_size, from;
  if (offset < 0) from = (uint64_t)-offset >= size ? 0 : size - (uint64_t)-offset;
  else from = (uint64_t)offset > size ? size : (uint64_t)offset;
  size_t want = (size_t)(size - from < max ? size - from : max);
  char *buf = malloc(want ? want : 1);
  ssize_t got = buf ? pread(fd, buf, want, (off_t)from) : -1;
  close(fd);
  if (got < 0) {
    free(buf);
    return s_reply(sock, m, request, node_id, NULL, from, NULL, 0, size, name, strerror(errno));
  }
  s_reply(sock, m, request, node_id, NULL, from, buf, (size_t)got, size, name, NULL);
  free(buf);
}

/* ---- selftest: names ---- */

int rl_log_service_selftest(void) {
  RL_CHECK_RETURN(rl_log_name_ok("worker-123.out") && rl_log_name_ok("gcs.log") && rl_log_name_ok("job_a.B-1"));
  RL_CHECK_RETURN(!rl_log_name_ok("") && !rl_log_name_ok(".hidden") && !rl_log_name_ok("../gcs.log"));
  RL_CHECK_RETURN(!rl_log_name_ok("a/b") && !rl_log_name_ok("a b") && !rl_log_name_ok("a\nb"));
  char longname[202];
  memset(longname, 'a', 201);
  longname[201] = 0;
  RL_CHECK_RETURN(!rl_log_name_ok(longname));
  longname[200] = 0;
  RL_CHECK_RETURN(rl_log_name_ok(longname));
  return 0;
}
