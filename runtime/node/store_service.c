/* store_service.c: the node manager's object store: a memfd region, the object table,
 * and the handlers of the RL_NM_STORE_* messages.
 *
 * Clients map the region through /proc/<node manager pid>/fd/<memfd> (no file in
 * /dev/shm, so nothing goes stale when the node manager dies). A GET of an object that
 * is unknown or not sealed yet is answered with an error, never held: the requester
 * retries (or pulls the object from elsewhere). */
#include "common/selftest.h"
#include "node/store_service.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "store/objects.h"
#include "store/region.h"
#include "wire/proto.h"
#include "wire/wire.h"

/* Pre-faulted at start (if the kernel can): the low addresses, which the first-fit
 * allocator hands out first and reuses first. */
#define S_PREFAULT ((size_t)64 << 20)

/* What rl_store_service_prefault remembers: granules of the region whose pages this
 * process faulted in (the region's pages are never given back: they stay mapped). */
#define S_GRANULE ((size_t)2 << 20)

struct rl_store_service_t {
  int fd;
  unsigned char *base;
  size_t capacity;
  char path[64];
  rl_objects_t *objects;
  uint8_t *faulted[2]; /* a bit per granule: [0] readable, [1] writable, in this process */
};

static bool s_granule_faulted(const rl_store_service_t *s, size_t g, bool write) {
  return s->faulted[write][g / 8] & (1u << (g % 8));
}

/* Granule g is faulted in (a writable page is readable too). */
static void s_mark_faulted(rl_store_service_t *s, size_t g, bool write) {
  s->faulted[0][g / 8] |= (uint8_t)(1u << (g % 8));
  if (write) s->faulted[1][g / 8] |= (uint8_t)(1u << (g % 8));
}

void rl_store_service_prefault(rl_store_service_t *s, const void *p, size_t n, bool write) {
  size_t offset = (size_t)((const unsigned char *)p - s->base);
  if (!n || offset >= s->capacity) return;
  if (n > s->capacity - offset) n = s->capacity - offset;
  size_t end = offset + n;
  for (size_t g = offset / S_GRANULE; g * S_GRANULE < end; g++) {
    if (s_granule_faulted(s, g, write)) continue;
    size_t from = g * S_GRANULE, to = from + S_GRANULE < s->capacity ? from + S_GRANULE : s->capacity;
    size_t a = from > offset ? from : offset, b = to < end ? to : end;
    rl_region_prefault(s->base + a, b - a, write);
    if (a == from && b == to) s_mark_faulted(s, g, write); /* a part of it is not remembered */
  }
}

rl_store_service_t *rl_store_service_new(size_t capacity, const char *spill_dir, char *err, size_t errlen) {
  rl_store_service_t *s = rl_xcalloc(1, sizeof *s);
  s->fd = -1;
  s->base = MAP_FAILED;
  s->capacity = capacity;
  if (capacity < RL_STORE_MIN_BYTES || capacity > (size_t)INT64_MAX) {
    snprintf(err, errlen, "bad object store size %zu bytes (object_store_memory must be at least %zu bytes)", capacity,
             (size_t)RL_STORE_MIN_BYTES);
    goto err;
  }
  s->fd = memfd_create("rayl-store", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (s->fd < 0) {
    snprintf(err, errlen, "cannot create the object store (memfd_create): %s", strerror(errno));
    goto err;
  }
  if (ftruncate(s->fd, (off_t)capacity) != 0) {
    snprintf(err, errlen, "cannot size the object store to %zu bytes: %s", capacity, strerror(errno));
    goto err;
  }
  /* A client that truncated the region would crash every other mapper with SIGBUS. */
  (void)fcntl(s->fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW);
  s->base = mmap(NULL, capacity, PROT_READ | PROT_WRITE, MAP_SHARED, s->fd, 0);
  if (s->base == MAP_FAILED) {
    snprintf(err, errlen, "cannot map the object store (%zu bytes): %s", capacity, strerror(errno));
    goto err;
  }
  size_t granules = (capacity + S_GRANULE - 1) / S_GRANULE;
  s->faulted[0] = rl_xcalloc(granules / 8 + 1, 1);
  s->faulted[1] = rl_xcalloc(granules / 8 + 1, 1);
  rl_store_service_prefault(s, s->base, capacity < S_PREFAULT ? capacity : S_PREFAULT, true);
  snprintf(s->path, sizeof s->path, "/proc/%d/fd/%d", (int)getpid(), s->fd);
  s->objects = rl_objects_new(s->base, capacity, spill_dir, err, errlen);
  if (!s->objects) goto err;
  return s;
err:
  rl_store_service_destroy(&s);
  return NULL;
}

void rl_store_service_destroy(rl_store_service_t **p) {
  if (!p || !*p) return;
  rl_store_service_t *s = *p;
  rl_objects_destroy(&s->objects);
  if (s->base != MAP_FAILED) munmap(s->base, s->capacity);
  if (s->fd >= 0) close(s->fd);
  free(s->faulted[0]);
  free(s->faulted[1]);
  free(s);
  *p = NULL;
}

const char *rl_store_service_path(const rl_store_service_t *s) { return s->path; }
size_t rl_store_service_capacity(const rl_store_service_t *s) { return s->capacity; }
struct rl_objects_t *rl_store_service_objects(rl_store_service_t *s) { return s->objects; }
void *rl_store_service_base(rl_store_service_t *s) { return s->base; }

void rl_store_service_client_gone(rl_store_service_t *s, uint64_t client) {
  rl_objects_client_gone(s->objects, client);
}

void rl_store_service_stats(const rl_store_service_t *s, size_t *used, size_t *objects, size_t *spilled) {
  rl_objects_stats(s->objects, used, objects, spilled);
}

/* Appends info to the listing ctx (an rl_nm_objects_msg_t with room for it). */
static void s_add_info(void *ctx, const rl_object_info_t *info) {
  rl_nm_objects_msg_t *r = ctx;
  rl_wire_object_info_t *e = &r->objects.v[r->objects.n++];
  e->object_id = info->id;
  e->size = info->size;
  e->state = (uint64_t)info->state;
  e->pins = info->pins;
  e->has_owner_id = !rl_id_is_nil(&info->owner_id);
  e->owner_id = info->owner_id;
}

static void s_count_info(void *ctx, const rl_object_info_t *info) {
  (void)info;
  (*(uint32_t *)ctx)++;
}

void rl_store_service_list(rl_store_service_t *s, void *sock, rl_msg_t *m, const rl_id_t *node_id) {
  rl_nm_list_objects_msg_t q;
  if (!rl_nm_list_objects_msg_read(m, &q)) return;
  uint32_t n = 0;
  rl_objects_each(s->objects, s_count_info, &n);
  rl_nm_objects_msg_t r = {.request = q.request, .node_id = *node_id};
  r.objects.v = rl_xcalloc(n ? n : 1, sizeof *r.objects.v);
  rl_objects_each(s->objects, s_add_info, &r);
  if (rl_nm_objects_msg_send(sock, m->has_identity ? &m->identity : NULL, &r) != 0)
    rl_log(RL_LOG_DEBUG, "store: object listing for request %" PRIu64 " dropped (asker gone?)", q.request);
  free(r.objects.v);
}

/* Replies STORE_CREATED [request, offset] / STORE_LOCATION [request, offset, size] on
 * success, with the error (and a location's RL_LOC_* reason) on failure. */
static void s_reply(void *sock, rl_msg_t *m, uint8_t type, uint64_t request, int rc, size_t offset, size_t size,
                    const char *err, int reason) {
  const zmq_msg_t *to = m->has_identity ? &m->identity : NULL;
  int sent;
  if (type == RL_NM_STORE_LOCATION) {
    rl_nm_store_location_msg_t r = {.request = request, .has_offset = rc == 0, .offset = offset,
                                    .has_size = rc == 0, .size = size, .has_error = rc != 0,
                                    .error = rl_wire_str(err), .has_reason = rc != 0, .reason = (uint64_t)reason};
    sent = rl_nm_store_location_msg_send(sock, to, &r);
  } else {
    rl_nm_store_created_msg_t r = {.request = request, .has_offset = rc == 0, .offset = offset,
                                   .has_error = rc != 0, .error = rl_wire_str(err)};
    sent = rl_nm_store_created_msg_send(sock, to, &r);
  }
  if (sent != 0) rl_log(RL_LOG_DEBUG, "store: reply %u to request %" PRIu64 " dropped (client gone?)", type, request);
}

int rl_store_service_handle(rl_store_service_t *s, void *sock, rl_msg_t *m, uint64_t client,
                            uint64_t (*owner_client)(void *ctx, const rl_id_t *owner), void *ctx) {
  uint64_t request = 0, size = 0;
  rl_id_t id, owner;
  char err[512], hex[RL_ID_HEX];
  size_t offset = 0, osize = 0;
  int rc;
  switch (m->type) {
    case RL_NM_STORE_CREATE: {
      rl_nm_store_create_msg_t c;
      if (rl_nm_store_create_msg_unpack(m, &c, err, sizeof err) != 0) goto bad;
      request = c.request, id = c.object_id, size = c.size, owner = c.owner_worker_id;
      bool has_owner = c.has_owner_worker_id;
      uint64_t owner_key = has_owner && owner_client ? owner_client(ctx, &owner) : 0;
      if (size > SIZE_MAX) {
        snprintf(err, sizeof err, "object of %" PRIu64 " bytes is larger than the object store (%zu bytes); raise "
                 "object_store_memory", size, s->capacity);
        rc = -1;
      } else {
        rc = rl_objects_create(s->objects, &id, (size_t)size, client, owner_key, &offset, err, sizeof err);
        if (rc == 0 && has_owner) rl_objects_set_owner_id(s->objects, &id, &owner);
      }
      if (rc != 0) rl_log(RL_LOG_INFO, "store: create %s failed: %s", rl_id_hex(&id, hex), err);
      s_reply(sock, m, RL_NM_STORE_CREATED, request, rc, offset, 0, err, RL_LOC_GONE);
      return 0;
    }
    case RL_NM_STORE_GET: {
      rl_nm_store_get_msg_t g;
      if (rl_nm_store_get_msg_unpack(m, &g, err, sizeof err) != 0) goto bad;
      request = g.request, id = g.object_id;
      rc = rl_objects_get(s->objects, &id, client, &offset, &osize, err, sizeof err);
      if (rc != 0) rl_log(RL_LOG_DEBUG, "store: get: %s", err);
      s_reply(sock, m, RL_NM_STORE_LOCATION, request, rc, offset, osize, err,
              rc != 0 && rl_objects_unsealed(s->objects, &id) ? RL_LOC_NOT_SEALED : RL_LOC_GONE);
      return 0;
    }
    case RL_NM_STORE_SEAL:
    case RL_NM_STORE_RELEASE:
    case RL_NM_STORE_DELETE: {
      /* Each names the object first (DELETE's location is for node_main's forwarding). */
      rl_nm_store_seal_msg_t one;
      rl_nm_store_delete_msg_t del;
      if (m->type == RL_NM_STORE_DELETE ? rl_wire_unpack(m, m->type, &del, err, sizeof err)
                                        : rl_wire_unpack(m, m->type, &one, err, sizeof err))
        goto bad;
      id = m->type == RL_NM_STORE_DELETE ? del.object_id : one.object_id;
      if (m->type == RL_NM_STORE_SEAL)
        rc = rl_objects_seal(s->objects, &id, client, err, sizeof err);
      else if (m->type == RL_NM_STORE_RELEASE)
        rc = rl_objects_release(s->objects, &id, client, err, sizeof err);
      else
        rc = rl_objects_delete(s->objects, &id, err, sizeof err);
      /* No reply: a late release or a double delete is harmless; say so in the log. */
      if (rc != 0)
        rl_log(m->type == RL_NM_STORE_SEAL ? RL_LOG_WARN : RL_LOG_DEBUG, "store: client %" PRIu64 ": %s", client, err);
      return 0;
    }
    default:
      snprintf(err, sizeof err, "message type %u is not a store request", m->type);
      break;
  }
bad:
  rl_log(RL_LOG_WARN, "store: dropped %s (client %" PRIu64 ")", err, client);
  return -1;
}
