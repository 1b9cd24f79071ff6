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
#include "wire/wire.h"

bool rl_log_name_ok(const char *name) {
  if (!name[0] || name[0] == '.' || strlen(name) > 200) return false;
  for (const char *p = name; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '.' ||
          *p == '_' || *p == '-'))
      return false;
  return true;
}

static int s_cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The regular files of dir with good names, sorted, into out (out->v and the names are
 * the caller's to free with s_free_files). */
static void s_list_files(rl_nm_log_data_msg_t *out, const char *dir) {
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
  out->files.v = calloc(n ? n : 1, sizeof *out->files.v);
  for (size_t i = 0; i < n; i++) {
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, names[i]);
    if (out->files.v && lstat(path, &st) == 0 && S_ISREG(st.st_mode)) {
      rl_wire_log_file_t *f = &out->files.v[out->files.n++];
      f->name = rl_wire_str(names[i]); /* freed by s_free_files */
      f->size = (uint64_t)st.st_size;
      f->modified_ms = (uint64_t)st.st_mtime * 1000;
    } else {
      free(names[i]);
    }
  }
  free(names);
}

static void s_free_files(rl_nm_log_data_msg_t *r) {
  for (uint32_t i = 0; i < r->files.n; i++) free((char *)r->files.v[i].name.p);
  free(r->files.v);
}

/* Sends RL_NM_LOG_DATA: [request, node_id, files, offset, data, error]. files_dir: list
 * that folder's files (NULL: none); data: NULL for none. */
static void s_reply(void *sock, const rl_msg_t *m, uint64_t request, const rl_id_t *node_id, const char *files_dir,
                    uint64_t offset, const char *data, size_t len, uint64_t size, const char *name,
                    const char *error) {
  rl_nm_log_data_msg_t r = {.request = request, .node_id = *node_id, .offset = offset,
                            .data = rl_wire_bytes(data ? data : "", data ? len : 0), .error = rl_wire_str(error ? error : "")};
  rl_wire_log_file_t one = {.name = rl_wire_str(name), .size = size};
  if (files_dir) {
    s_list_files(&r, files_dir);
  } else if (name) { /* the file read, with its size now */
    r.files.n = 1;
    r.files.v = &one;
  }
  if (rl_nm_log_data_msg_send(sock, m->has_identity ? &m->identity : NULL, &r) != 0)
    rl_log(RL_LOG_DEBUG, "log reply for request %llu dropped (asker gone?)", (unsigned long long)request);
  if (files_dir) s_free_files(&r);
}

void rl_log_service_handle(void *sock, const rl_msg_t *m, const char *session_dir, const rl_id_t *node_id) {
  uint64_t request, max = RL_LOG_READ_MAX;
  int64_t offset = 0;
  char name[256], dir[PATH_MAX], path[PATH_MAX + 256];
  rl_nm_logs_msg_t q;
  if (!rl_nm_logs_msg_read(m, &q)) return;
  request = q.request;
  snprintf(dir, sizeof dir, "%s/logs", session_dir);
  if (!q.has_name) return s_reply(sock, m, request, node_id, dir, 0, NULL, 0, 0, NULL, NULL);
  if (!rl_wire_strcpy(name, sizeof name, q.name) || !rl_log_name_ok(name))
    return s_reply(sock, m, request, node_id, NULL, 0, NULL, 0, 0, NULL,
                   "bad log file name: letters, digits, '.', '_' and '-' only");
  if (q.has_offset) offset = q.offset;
  if (q.has_max) max = q.max;
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
