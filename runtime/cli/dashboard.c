/* dashboard.c: `rayl dashboard`: the URL of the dashboard the cluster's head serves, with
 * its access token, read from the head's KV store (gcs/dashboard.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "head/dashboard.h"
#include "wire/proto.h"
#include "worker/cluster_client.h"
#include "worker/head_client.h"

#define S_ERR 1200

static const char *s_usage =
    "usage: rayl dashboard [--address HOST:PORT] [--cluster-key FILE] [--no-token]\n"
    "Prints the URL of the dashboard the cluster's head serves (http://127.0.0.1:8265 by\n"
    "default), with ?token=... : the token opens a dashboard bound beyond localhost and lets\n"
    "the page stop jobs. It is derived from the cluster key, so only key holders get it\n"
    "(a --no-security cluster's is random, and anyone who reaches the head can read it).\n"
    "  --address HOST:PORT  the cluster's head (default: RAYL_ADDRESS, else the cluster\n"
    "                       `rayl start` runs on this machine)\n"
    "  --cluster-key FILE   the cluster key, on a machine that has not recorded it\n"
    "  --no-token           print the URL alone\n";

int rl_cli_dashboard_record(const char *gcs, char *url, size_t un, char *token, size_t tn, char *err, size_t errlen) {
  rl_head_t h;
  rl_gcs_kv_reply_msg_t kv;
  rl_msg_t reply;
  char rec[700] = "";
  int rc = rl_head_connect(&h, gcs, err, errlen) == 0 ? rl_head_kv(&h, RL_GCS_KV_GET, RL_DASHBOARD_KV_KEY, NULL, 0, &kv, &reply, 3000, err, errlen)
                                                      : -1;
  rl_head_close(&h);
  if (rc != 0) return -1;
  if (kv.has_value && kv.value.n < sizeof rec) memcpy(rec, kv.value.p, kv.value.n), rec[kv.value.n] = 0;
  rl_msg_close(&reply);
  char *nl1 = strchr(rec, '\n'), *nl2 = nl1 ? strchr(nl1 + 1, '\n') : NULL;
  if (!nl1 || !nl2) {
    snprintf(err, errlen, "the head at %s serves no dashboard (a private cluster serves one when "
                          "RAYL_DASHBOARD_PORT is set)", gcs + 6);
    return -1;
  }
  *nl1 = *nl2 = 0;
  if (!rec[0]) {
    snprintf(err, errlen, "the head at %s could not serve its dashboard: %s", gcs + 6, nl2 + 1);
    return -1;
  }
  snprintf(url, un, "%s", rec);
  snprintf(token, tn, "%s", nl1 + 1);
  return 0;
}

/* A dashboard bound to every interface is reached where the head is. */
static void s_reachable(const char *gcs, char *url, size_t n) {
  if (strncmp(url, "http://0.0.0.0:", 15) || strncmp(gcs, "tcp://", 6)) return;
  char host[128], port[8];
  const char *colon = strrchr(gcs + 6, ':');
  if (!colon || (size_t)(colon - gcs - 6) >= sizeof host || strlen(url + 15) >= sizeof port) return;
  snprintf(host, sizeof host, "%.*s", (int)(colon - gcs - 6), gcs + 6);
  snprintf(port, sizeof port, "%.7s", url + 15);
  snprintf(url, n, "http://%.127s:%.7s", !strcmp(host, "0.0.0.0") ? "127.0.0.1" : host, port);
}

int rl_cli_dashboard(int argc, char **argv) {
  const char *address = getenv("RAYL_ADDRESS"), *key_file = NULL;
  if (!address || !*address) address = "auto";
  bool no_token = false;
  const rl_cli_option_t opts[] = {{"--address", &address, NULL}, {"--cluster-key", &key_file, NULL}, {"--no-token", NULL, &no_token}};
  int rc = rl_cli_options("dashboard", s_usage, argc, argv, opts, sizeof opts / sizeof opts[0]);
  if (rc >= 0) return rc;
  char gcs[200], err[S_ERR], url[200], token[80];
  if (rl_cluster_resolve(address, gcs, sizeof gcs, err, sizeof err) != 0 ||
      rl_cluster_use_key(gcs, key_file, err, sizeof err) < 0 ||
      rl_cli_dashboard_record(gcs, url, sizeof url, token, sizeof token, err, sizeof err) != 0) {
    fprintf(stderr, "rayl dashboard: %s\n", err);
    return 1;
  }
  s_reachable(gcs, url, sizeof url);
  if (!no_token) printf("%s/?token=%s\n", url, token);
  else printf("%s\n", url);
  return 0;
}
