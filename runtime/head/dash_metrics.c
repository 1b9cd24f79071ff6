/* dash_metrics.c: the dashboard's /metrics: the head's tables and the nodes' numbers as
 * Prometheus text. */
#include <stddef.h>
#include <stdio.h>

#include "head/dash_call.h"

/* ---- /metrics: Prometheus text ---- */

static void s_metric_head(rl_json_t *m, const char *name, const char *type, const char *help) {
  rl_json_rawf(m, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void rl_dash_metrics(rl_dash_call_t *c) {
  rl_json_t *m = c->j;
  size_t tasks[RL_DASH_NTASK_STATES] = {0}, actors[RL_DASH_NACTOR_STATES] = {0};
  rl_state_table_counts(c->d->t.state, tasks, actors);
  s_metric_head(m, "rayl_tasks", "gauge", "Tasks the head keeps, by state.");
  for (int i = 0; i < RL_DASH_NTASK_STATES; i++)
    rl_json_rawf(m, "rayl_tasks{State=\"%s\"} %zu\n", rl_dash_task_states[i], tasks[i]);
  s_metric_head(m, "rayl_tasks_evicted_total", "counter", "Tasks forgotten to keep the head's table bounded.");
  rl_json_rawf(m, "rayl_tasks_evicted_total %llu\n", (unsigned long long)rl_state_table_evicted(c->d->t.state));
  s_metric_head(m, "rayl_actors", "gauge", "Actors, by state.");
  for (int i = 0; i < RL_DASH_NACTOR_STATES; i++)
    rl_json_rawf(m, "rayl_actors{State=\"%s\"} %zu\n", rl_dash_actor_states[i], actors[i]);
  rl_dash_totals_t t;
  rl_dash_totals(c->d, &t);
  s_metric_head(m, "rayl_nodes", "gauge", "Nodes, by state.");
  rl_json_rawf(m, "rayl_nodes{State=\"ALIVE\"} %d\nrayl_nodes{State=\"DEAD\"} %d\n", t.alive, t.dead);
  static const struct {
    const char *name, *help;
    size_t off;
    bool counter;
  } per_node[] = {
      {"rayl_object_store_used_bytes", "Bytes allocated in the node's object store.",
       offsetof(rl_node_stats_t, store_used), false},
      {"rayl_object_store_capacity_bytes", "The node's object store size.", offsetof(rl_node_stats_t, store_capacity),
       false},
      {"rayl_object_store_objects", "Objects in the node's store (in memory or spilled).",
       offsetof(rl_node_stats_t, objects), false},
      {"rayl_object_store_spilled_objects", "Objects of the node's store spilled to disk.",
       offsetof(rl_node_stats_t, spilled), false},
      {"rayl_workers", "Worker processes of the node.", offsetof(rl_node_stats_t, workers), false},
      {"rayl_workers_leased", "Workers leased to run tasks or actors.", offsetof(rl_node_stats_t, workers_leased),
       false},
      {"rayl_scheduler_queued_leases", "Lease requests waiting in the node's scheduler queue.",
       offsetof(rl_node_stats_t, queued), false},
      {"rayl_node_mem_total_bytes", "The node's machine memory.", offsetof(rl_node_stats_t, mem_total), false},
      {"rayl_node_mem_available_bytes", "The node's machine memory available.",
       offsetof(rl_node_stats_t, mem_available), false},
      {"rayl_node_load1", "The node's machine load average over a minute.", offsetof(rl_node_stats_t, load1), false},
      {"rayl_node_cpus", "The node's machine CPUs.", offsetof(rl_node_stats_t, cpus), false},
  };
  for (size_t k = 0; k < sizeof per_node / sizeof per_node[0]; k++) {
    s_metric_head(m, per_node[k].name, "gauge", per_node[k].help);
    size_t cur = 0;
    for (const rl_node_t *n; (n = rl_node_table_next(c->d->t.nodes, &cur));) {
      if (!n->alive) continue;
      char hex[RL_ID_HEX];
      double v = *(const double *)((const char *)&n->stats + per_node[k].off);
      rl_json_rawf(m, "%s{NodeId=\"%s\"} %.17g\n", per_node[k].name, rl_id_hex(&n->id, hex), v);
    }
  }
  static const char *const res_names[] = {"CPU", "GPU", "memory"};
  for (int avail = 0; avail < 2; avail++) {
    const char *name = avail ? "rayl_resources_available" : "rayl_resources_total";
    s_metric_head(m, name, "gauge", avail ? "Resources of a node not in use." : "Resources a node offers.");
    size_t cur = 0;
    for (const rl_node_t *n; (n = rl_node_table_next(c->d->t.nodes, &cur));) {
      if (!n->alive) continue;
      char hex[RL_ID_HEX];
      rl_id_hex(&n->id, hex);
      for (size_t r = 0; r < 3; r++)
        rl_json_rawf(m, "%s{NodeId=\"%s\",Name=\"%s\"} %.17g\n", name, hex, res_names[r],
                     rl_res_get(avail ? &n->available : &n->total, res_names[r]));
    }
  }
  c->out->type = "text/plain; version=0.0.4; charset=utf-8";
}
