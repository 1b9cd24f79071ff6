/* context.c: opening and closing C API contexts, the owner-thread rule, and the
 * codes and messages every rayl_* call reports. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "embed/embed_int.h"
#include "wire/proto.h"
#include "worker/cluster_client.h"

#define S_ERR 512

static _Thread_local char s_last_error[1024];

/* Every context ever opened. Closed ones stay allocated (and reachable) so a stale
 * pointer passed later is still safe to look at: it reports RAYL_E_CLOSED. */
static pthread_mutex_t s_opened_lock = PTHREAD_MUTEX_INITIALIZER;
static rayl_ctx *s_opened;
static uint16_t s_last_serial;

int rl_embed_fail(int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(s_last_error, sizeof s_last_error, fmt, ap);
  va_end(ap);
  return code;
}

const char *rayl_last_error(void) { return s_last_error; }

const char *rayl_version(void) { return RL_VERSION; }

const char *rayl_strerror(int code) {
  switch (code) {
    case RAYL_OK: return "RAYL_OK: success";
    case RAYL_PENDING: return "RAYL_PENDING: the job has not finished yet";
    case RAYL_E_ARG: return "RAYL_E_ARG: a NULL or malformed argument";
    case RAYL_E_THREAD: return "RAYL_E_THREAD: called from a thread that does not own the context";
    case RAYL_E_CLOSED: return "RAYL_E_CLOSED: the context was closed";
    case RAYL_E_HANDLE: return "RAYL_E_HANDLE: a null, stale or foreign handle";
    case RAYL_E_STATE: return "RAYL_E_STATE: not allowed now (inside a completion callback?)";
    case RAYL_E_TIMEOUT: return "RAYL_E_TIMEOUT: the job did not finish in time";
    case RAYL_E_CONNECT: return "RAYL_E_CONNECT: cannot start or reach the cluster";
    case RAYL_E_NOMEM: return "RAYL_E_NOMEM: out of memory or object store full";
    case RAYL_E_TYPE: return "RAYL_E_TYPE: the value is not of the type asked for";
    case RAYL_E_TASK: return "RAYL_E_TASK: the job's Lua code raised an error";
    case RAYL_E_NOT_FOUND: return "RAYL_E_NOT_FOUND: the module or function does not exist on the worker";
    case RAYL_E_CANCELLED: return "RAYL_E_CANCELLED: the job was cancelled";
    case RAYL_E_SYSTEM: return "RAYL_E_SYSTEM: the cluster lost the job (worker crashed, node died, object lost)";
    default: return "unknown rayl code";
  }
}

void rayl_config_init(rayl_config *config) {
  if (config) memset(config, 0, sizeof *config);
}

int rl_embed_check(rayl_ctx *ctx, const char *fn) {
  if (!ctx) return rl_embed_fail(RAYL_E_ARG, "%s: ctx is NULL (open a context with rayl_open)", fn);
  if (ctx->magic != RL_EMBED_MAGIC) return rl_embed_fail(RAYL_E_ARG, "%s: ctx is not a context from rayl_open", fn);
  /* owner never changes, so this is safe from any thread; only the owner reads on. */
  if (!pthread_equal(ctx->owner, pthread_self()))
    return rl_embed_fail(RAYL_E_THREAD,
                         "%s: called from a thread that does not own this context; only the thread that opened "
                         "it may use it (open one context per thread, or pass results to other threads yourself)",
                         fn);
  if (ctx->closed)
    return rl_embed_fail(RAYL_E_CLOSED, "%s: the context was closed by rayl_close; open a new one with rayl_open",
                         fn);
  return 0;
}

/* The rayl program that runs the daemons and workers. */
static const char *s_program(const rayl_config *config) {
  if (config->rayl_program && *config->rayl_program) return config->rayl_program;
  const char *env = getenv("RAYL_BIN");
  if (env && *env) return env;
  if (access(RL_BIN_DIR "/rayl", X_OK) == 0) return RL_BIN_DIR "/rayl";
  return RL_INSTALL_BINDIR "/rayl";
}

/* Starts or joins the cluster and connects ctx->cw. Returns RAYL_OK or a code (set). */
static int s_connect(rayl_ctx *ctx, const rayl_config *config) {
  char err[S_ERR];
  if (config->address && *config->address) {
    char node[160];
    if (rl_cluster_local_node(config->address, node, sizeof node, err, sizeof err) == 0)
      ctx->cw = rl_cw_new(node, RL_CLIENT_DRIVER, 10000, err, sizeof err);
    if (!ctx->cw)
      return rl_embed_fail(RAYL_E_CONNECT, "rayl_open: cannot join the cluster at %s: %s", config->address, err);
    return RAYL_OK;
  }
  const char *program = s_program(config);
  if (access(program, X_OK) != 0)
    return rl_embed_fail(RAYL_E_CONNECT,
                         "rayl_open: cannot run the rayl program %s (%s); set rayl_config.rayl_program or $RAYL_BIN "
                         "to the rayl executable",
                         program, strerror(errno));
  rl_local_opts_t o = {.rayl_bin = program, .num_cpus = config->num_cpus > 0 ? config->num_cpus : -1,
                       .num_gpus = -1, .object_store_memory = config->object_store_memory, .nice = config->nice};
  ctx->cluster = rl_local_cluster_start(&o, err, sizeof err);
  if (ctx->cluster) ctx->cw = rl_cw_new(rl_local_cluster_node(ctx->cluster), RL_CLIENT_DRIVER, 10000, err, sizeof err);
  if (ctx->cw) return RAYL_OK;
  rl_embed_fail(RAYL_E_CONNECT, "rayl_open: cannot start a local cluster: %s (logs in %s/logs)", err,
                ctx->cluster ? rl_local_cluster_session(ctx->cluster) : "the session folder");
  rl_local_cluster_stop(&ctx->cluster);
  return RAYL_E_CONNECT;
}

int rayl_open(const rayl_config *config, rayl_ctx **out) {
  if (!out) return rl_embed_fail(RAYL_E_ARG, "rayl_open: out is NULL; pass the address of a rayl_ctx pointer");
  *out = NULL;
  rayl_config defaults;
  if (!config) {
    rayl_config_init(&defaults);
    config = &defaults;
  }
  if (!(config->num_cpus >= 0) || isinf(config->num_cpus))
    return rl_embed_fail(RAYL_E_ARG, "rayl_open: num_cpus must be 0 (all cores) or a positive number, not %g",
                         config->num_cpus);
  if (config->nice < 0 || config->nice > 19)
    return rl_embed_fail(RAYL_E_ARG, "rayl_open: nice must be between 0 and 19, not %d", config->nice);
  rayl_ctx *ctx = calloc(1, sizeof *ctx);
  if (!ctx) return rl_embed_fail(RAYL_E_NOMEM, "rayl_open: out of memory");
  ctx->module_path = strdup(config->module_path ? config->module_path : "");
  int rc = ctx->module_path ? s_connect(ctx, config) : rl_embed_fail(RAYL_E_NOMEM, "rayl_open: out of memory");
  if (rc == RAYL_OK && rl_embed_jobs_open(ctx) != 0) rc = rl_embed_fail(RAYL_E_NOMEM, "rayl_open: out of memory");
  if (rc != RAYL_OK) {
    rl_embed_jobs_close(ctx);
    rl_cw_destroy(&ctx->cw);
    rl_local_cluster_stop(&ctx->cluster);
    free(ctx->module_path);
    free(ctx);
    return rc;
  }
  rl_cw_set_error_encoder(ctx->cw, rl_embed_encode_error, NULL);
  rl_cw_set_print_worker_logs(ctx->cw, !config->quiet);
  char log_path[400];
  snprintf(log_path, sizeof log_path, "%s/logs/driver-%d.log", rl_cw_session_dir(ctx->cw), (int)getpid());
  rl_log_open("driver", log_path);
  ctx->owner = pthread_self();
  ctx->magic = RL_EMBED_MAGIC;
  pthread_mutex_lock(&s_opened_lock);
  if (++s_last_serial == 0) s_last_serial = 1;
  ctx->serial = s_last_serial;
  ctx->next_opened = s_opened;
  s_opened = ctx;
  pthread_mutex_unlock(&s_opened_lock);
  *out = ctx;
  return RAYL_OK;
}

int rayl_close(rayl_ctx *ctx) {
  int rc = rl_embed_check(ctx, "rayl_close");
  if (rc) return rc;
  if (ctx->in_callback)
    return rl_embed_fail(RAYL_E_STATE, "rayl_close: called from inside a completion callback; close the context "
                                       "after rayl_update returns");
  rl_embed_jobs_close(ctx);
  rl_cw_destroy(&ctx->cw);
  rl_local_cluster_stop(&ctx->cluster);
  free(ctx->module_path);
  ctx->module_path = NULL;
  ctx->closed = true;
  return RAYL_OK;
}
