#!/usr/bin/env python3
"""sniff_lo.py: counts the loopback packets carrying a marker, for sealed_transfer_spec.
Usage: sniff_lo.py MARKER DIR: captures on lo (needs CAP_NET_RAW), writes DIR/ready once
listening, stops when DIR/stop exists (or after 120 s), then prints
"packets N marker M" (M: packets whose bytes contain MARKER)."""
import os
import socket
import sys
import time

marker, folder = sys.argv[1].encode(), sys.argv[2]
try:
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))  # ETH_P_ALL
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 << 20)
    s.bind(("lo", 0))
except OSError as e:
    print("cannot capture on lo:", e)
    sys.exit(3)
s.settimeout(0.2)
open(os.path.join(folder, "ready"), "w").close()
packets = hits = 0
end = time.time() + 120
while time.time() < end and not os.path.exists(os.path.join(folder, "stop")):
    try:
        data = s.recv(1 << 17)
    except socket.timeout:
        continue
    packets += 1
    if marker in data:
        hits += 1
print("packets %d marker %d" % (packets, hits))
