#!/usr/bin/env python3
# dashboard_load.py: the client side of tools/bench/dashboard.
#   poll BASE PAGES SECONDS: PAGES open overview pages, each asking what app.js asks every
#     second on the overview (/api/cluster, /api/nodes, /api/tasks?limit=20, /api/pending)
#     on a kept-alive connection.
#   latency BASE PATH RUNS: RUNS GETs of PATH; prints median, min and max in ms.
import http.client
import sys
import threading
import time
from urllib.parse import urlparse

PAGE = ["/api/cluster", "/api/nodes", "/api/tasks?limit=20", "/api/pending"]


def conn(base):
    u = urlparse(base)
    return http.client.HTTPConnection(u.hostname, u.port, timeout=10)


def get(c, path):
    c.request("GET", path)
    r = c.getresponse()
    body = r.read()
    if r.status != 200:
        raise SystemExit(f"GET {path}: {r.status} {body[:200]!r}")
    return body


def page(base, until, counts, i):
    c = conn(base)
    while time.time() < until:
        t0 = time.time()
        for p in PAGE:
            get(c, p)
            counts[i] += 1
        time.sleep(max(0.0, 1.0 - (time.time() - t0)))


def poll(base, pages, seconds):
    until = time.time() + seconds
    counts = [0] * pages
    threads = [threading.Thread(target=page, args=(base, until, counts, i), daemon=True) for i in range(pages)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(f"requests {sum(counts)}", file=sys.stderr)


def latency(base, path, runs):
    c = conn(base)
    times = []
    size = 0
    for _ in range(runs):
        t0 = time.perf_counter()
        size = len(get(c, path))
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    print(f"{times[len(times) // 2]:.2f} {times[0]:.2f} {times[-1]:.2f} {size}")


if __name__ == "__main__":
    if sys.argv[1] == "poll":
        poll(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
    else:
        latency(sys.argv[2], sys.argv[3], int(sys.argv[4]))
