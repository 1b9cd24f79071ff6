"""Peer side of tools/bench/compare: the rayl workloads on multiprocessing and Dask.

Runs the same task workloads as tools/bench/compare_rayl.lua on Python's
multiprocessing.Pool(2) and on a Dask distributed LocalCluster of 2 single-threaded
worker processes, then prints a table next to the rayl figures with the ratios
rayl/peer.

Workloads (each: a warm-up, then the median of 3 runs):
  sync_tasks   1,000 tasks, submit one and wait for it, repeat      tasks/s
  async_tasks  10,000 tasks, submit all, then wait for all           tasks/s
  put_100mib   store a 100 MiB bytes object (Dask: client.scatter)   GB/s
  get_100mib   fetch it back (Dask: future.result())                 GB/s
The task is a function returning its argument. multiprocessing has no object store,
so it has no put/get figures.

Usage: /usr/bin/python3 compare_peers.py [--rayl FILE] [--json]
  --rayl FILE  JSON lines from compare_rayl.lua ({"workload":..,"value":..,"unit":..})
  --json       print the figures as JSON lines instead of the table
Progress goes to stderr; the table (or JSON) to stdout.
"""

import argparse
import datetime
import json
import logging
import multiprocessing
import os
import platform
import statistics
import sys
import time

SYNC_TASKS = 1_000
ASYNC_TASKS = 10_000
PUT_BYTES = 100 * 1024 * 1024
RUNS = 3

# (key, label, unit) in table order.
WORKLOADS = [
    ("sync_tasks", f"{SYNC_TASKS:,} sync tasks", "tasks/s"),
    ("async_tasks", f"{ASYNC_TASKS:,} async tasks", "tasks/s"),
    ("put_100mib", "100 MiB put", "GB/s"),
    ("get_100mib", "100 MiB get", "GB/s"),
]


def echo(x):
    """The task: returns its argument."""
    return x


def progress(system, message):
    print(f"[{system}] {message}", file=sys.stderr, flush=True)


def measure(system, name, work, run, warmup=None):
    """Median of work / run() over RUNS runs, after one warm-up call.

    run() does the workload and returns the seconds it took; warmup() (default run)
    is called once first and not timed.
    """
    progress(system, f"{name}: warm-up")
    (warmup or run)()
    rates = []
    for i in range(RUNS):
        rates.append(work / run())
        progress(system, f"{name}: run {i + 1}: {rates[-1]:.4g}")
    return statistics.median(rates)


def task_workloads(system, call_sync, call_async):
    """Sync and async task figures for one system.

    call_sync(i) runs one task and returns its result; call_async(n) submits n tasks,
    waits for all and returns their results. Warm-ups run a tenth of each workload.
    """

    def sync_run(n=SYNC_TASKS):
        t0 = time.perf_counter()
        for i in range(n):
            assert call_sync(i) == i
        return time.perf_counter() - t0

    def async_run(n=ASYNC_TASKS):
        t0 = time.perf_counter()
        results = call_async(n)
        dt = time.perf_counter() - t0
        assert len(results) == n and results[-1] == n - 1
        return dt

    return {
        "sync_tasks": measure(system, "sync_tasks", SYNC_TASKS, sync_run,
                              lambda: sync_run(SYNC_TASKS // 10)),
        "async_tasks": measure(system, "async_tasks", ASYNC_TASKS, async_run,
                               lambda: async_run(ASYNC_TASKS // 10)),
    }


def bench_multiprocessing():
    """Task figures for multiprocessing.Pool(2) (apply / apply_async, one task each)."""
    with multiprocessing.Pool(2) as pool:
        return task_workloads(
            "mp",
            lambda i: pool.apply(echo, (i,)),
            lambda n: [r.get() for r in [pool.apply_async(echo, (i,)) for i in range(n)]],
        )


def bench_dask():
    """Task and put/get figures for a 2-worker Dask LocalCluster."""
    import dask
    from distributed import Client, LocalCluster, wait

    # Keep Dask quiet: no dashboard, only errors from its loggers.
    dask.config.set({"distributed.logging.distributed": "error"})
    for name in ("distributed", "tornado", "asyncio"):
        logging.getLogger(name).setLevel(logging.CRITICAL)

    progress("dask", "starting LocalCluster(n_workers=2, threads_per_worker=1, processes=True)")
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                           dashboard_address=None, silence_logs=logging.CRITICAL)
    client = Client(cluster)
    try:
        results = task_workloads(
            "dask",
            lambda i: client.submit(echo, i, pure=False).result(),
            lambda n: client.gather([client.submit(echo, i, pure=False) for i in range(n)]),
        )

        # Random bytes, so that no transport compression flatters the figure.
        data = os.urandom(PUT_BYTES)
        gb = PUT_BYTES / 1e9
        state = {}

        def put_run():
            if state.pop("future", None) is not None:
                time.sleep(0.2)  # let the worker release the previous object
            t0 = time.perf_counter()
            future = client.scatter(data, hash=False)
            wait(future)
            dt = time.perf_counter() - t0
            state["future"] = future
            return dt

        def get_run():
            put_run()  # a fresh object each run, held by a worker
            t0 = time.perf_counter()
            value = state["future"].result()
            dt = time.perf_counter() - t0
            assert len(value) == PUT_BYTES
            return dt

        results["put_100mib"] = measure("dask", "put_100mib", gb, put_run)
        results["get_100mib"] = measure("dask", "get_100mib", gb, get_run)
        state.clear()
        return results
    finally:
        client.close()
        cluster.close()


def read_rayl(path):
    """Figures from compare_rayl.lua's JSON lines, by workload."""
    figures = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("{"):
                row = json.loads(line)
                figures[row["workload"]] = row["value"]
    return figures


def fmt_value(value, unit):
    if value is None:
        return "—"
    if unit == "GB/s":
        return f"{value:.3g}" if value < 100 else f"{value:,.0f}"
    if value >= 1000:
        return f"{value / 1000:.3g}k" if value < 1e6 else f"{value / 1e6:.3g}M"
    return f"{value:.3g}"


def fmt_ratio(a, b):
    if a is None or b is None or b == 0:
        return "—"
    r = a / b
    return f"{r:.2f}x" if r < 10 else f"{r:,.0f}x"


def machine_line():
    model = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    now = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    return f"machine: nproc {len(os.sched_getaffinity(0))}, {model}; {now}"


def versions_line():
    import dask
    import distributed
    return (f"peers: Python {platform.python_version()}, dask {dask.__version__}, "
            f"distributed {distributed.__version__}")


def print_table(rayl, mp, dk):
    header = ["workload", "rayl", "multiprocessing.Pool(2)", "Dask (2 workers)",
              "rayl/mp", "rayl/dask"]
    rows = []
    for key, label, unit in WORKLOADS:
        r, m, d = rayl.get(key), mp.get(key), dk.get(key)
        rows.append([f"{label} ({unit})", fmt_value(r, unit), fmt_value(m, unit),
                     fmt_value(d, unit), fmt_ratio(r, m), fmt_ratio(r, d)])
    widths = [max(len(row[i]) for row in [header] + rows) for i in range(len(header))]

    def line(cells):
        first = cells[0].ljust(widths[0])
        rest = [c.rjust(w) for c, w in zip(cells[1:], widths[1:])]
        return "| " + " | ".join([first] + rest) + " |"

    print(line(header))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print(line(row))
    print()
    print(machine_line())
    print(versions_line())
    print("Each figure: median of 3 runs after a warm-up; higher is better. "
          "rayl get returns a zero-copy view of the stored object.")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rayl", metavar="FILE", help="JSON lines from compare_rayl.lua")
    parser.add_argument("--json", action="store_true", help="print JSON lines, not a table")
    args = parser.parse_args()

    rayl = read_rayl(args.rayl) if args.rayl else {}
    mp = bench_multiprocessing()
    dk = bench_dask()

    if args.json:
        for system, figures in (("multiprocessing", mp), ("dask", dk)):
            for key, _, unit in WORKLOADS:
                if key in figures:
                    print(json.dumps({"system": system, "workload": key,
                                      "value": figures[key], "unit": unit}))
    else:
        print_table(rayl, mp, dk)


if __name__ == "__main__":
    main()
