#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""ms_json.py - one JSON line of a timed benchmark from its rounds.

  ms_json.py BENCH [KEY=VALUE...] < MS

reads whole milliseconds, one a round, and prints
{"bench":BENCH,KEY:VALUE...,"ms":MEDIAN,"ms_min":..,"ms_max":..,"rounds":N}
(a VALUE of digits is a number, any other a string).
"""
import json
import statistics
import sys


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: ms_json.py BENCH [KEY=VALUE...] < MS")
    ms = [int(x) for x in sys.stdin.read().split()]
    if not ms:
        sys.exit("ms_json.py: no rounds on stdin")
    line = {"bench": sys.argv[1]}
    for kv in sys.argv[2:]:
        key, _, value = kv.partition("=")
        line[key] = int(value) if value.isdigit() else value
    line.update({"ms": int(statistics.median(ms)), "ms_min": min(ms),
                 "ms_max": max(ms), "rounds": len(ms)})
    print(json.dumps(line, separators=(",", ":")))


if __name__ == "__main__":
    main()
