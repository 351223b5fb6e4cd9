#!/usr/bin/env python3
"""Lists the Portunus rows of this session's result files by p99.9 latency, worst first
(profile.md, "No 0.1 s stall"). Run from bench/results/."""
import json

FILES = ["webinar", "stream", "meeting", "join-storm", "webinar-ramp", "webinar-shards",
         "stream-portunus-repeats", "stream-earlier-binary"]

rows = []
for name in FILES:
    with open(f"{name}.json") as f:
        for r in json.load(f):
            if r["server"].startswith("portunus"):
                rows.append((r["latency_p999_us"], name, r["server"], r["n"]))
rows.sort(reverse=True)
print(f"{len(rows)} Portunus rows")
for p999, name, server, n in rows[:10]:
    print(f"p99.9 {p999:>8} µs  {name:<24} {server:<18} N={n}")
