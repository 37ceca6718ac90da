#!/usr/bin/env python3
"""The table of bench/strategies/run.sh: link x strategy, from the runs'
--json summaries, the links' counters and the database.

    table.py OUT TARGET "LINK ..." "STRATEGY ..."

Columns (MB = 1e6 B; per replica and step):
  counted  bytes dml-exec counted between nodes (bytes_per_step.per_rank)
  wire     what the links carried (tc counters), less the framing of
           every packet (66 B: Ethernet 14, IPv4 20, TCP with timestamps
           32; an ACK is framing alone), per node and step. Not x1448/1514:
           that holds for full segments only, and PowerSGD's small
           messages average under 700 B a packet (+9 % counted so)
  wire/c   wire over counted
  x dense  counted over dense allreduce's on the same link
  step     mean measured step time (the steps' times summed over the
           database's rows, the first left out), ms
  pred     the plan's predicted step time, ms, and its error
  steps    steps to TARGET (the first evaluation at or above it)
  time     training time to TARGET: the steps' times summed, s
  final    test accuracy at the end, and its difference to dense (points)
  load     the 1-minute load average as the run started (loads.txt; the
           machine is shared: a load above its 2 cores stretches compute)
"""
import json
import os
import sqlite3
import sys

out, target = sys.argv[1], float(sys.argv[2])
links, strategies = sys.argv[3].split(), sys.argv[4].split()
db = sqlite3.connect(os.path.join(out, "strategies.db"))
FRAMING = 14 + 20 + 32  # bytes a packet carries besides TCP's payload


def name(s):
    return s.replace(":", "_")


def loads():
    """The load each run met, by tag (the last line of a tag wins)."""
    path = os.path.join(out, "loads.txt")
    seen = {}
    if os.path.exists(path):
        for line in open(path):
            tag, _, value = line.split()
            seen[tag] = float(value)
    return seen


LOADS = loads()


def failure(tag):
    """dml-exec's error line where the run failed, else None."""
    path = os.path.join(out, tag + ".failed")
    return open(path).read().strip() if os.path.exists(path) else None


def run_figures(tag, db=db):
    """The figures of one run, or None when it did not run or failed."""
    path = os.path.join(out, tag + ".json")
    if not os.path.exists(path) or failure(tag):
        return None
    d = json.load(open(path))
    st = json.load(open(os.path.join(out, tag + ".stats")))
    n = d["steps"] - d["first_step"]
    nodes = len(st["nodes"])
    wire = sum(x["sent_bytes"] - FRAMING * x["sent_packets"]
               for x in st["nodes"])
    times = [r[0] for r in db.execute(
        "SELECT step_s FROM steps WHERE run_id = ? ORDER BY step",
        (d["run_id"],))]
    reach = db.execute(
        "SELECT min(steps), min(train_time_s) FROM v_accuracy_curve "
        "WHERE run_id = ? AND test_accuracy >= ?",
        (d["run_id"], target)).fetchone()
    return {
        "counted": d["bytes_per_step"]["per_replica"]["inter_node"],
        "wire": wire / n / nodes,
        "step": sum(times[1:]) / max(len(times) - 1, 1),
        "pred": d["predicted_step_s"],
        "steps": reach[0],
        "time": reach[1],
        "final": d["test_accuracy"],
        "stale": d.get("max_staleness"),
        "run": d["run_id"],
        "load": LOADS.get(tag),
    }


def cell(x, fmt, none="-"):
    return none if x is None else fmt % x


rows = {}
print(f"\n{'link':8} {'strategy':15} {'counted':>9} {'wire':>9} {'wire/c':>7}"
      f" {'x dense':>8} {'step ms':>8} {'pred ms':>8} {'err':>6} "
      f"{'steps':>6} {'time s':>8} {'final':>7} {'vs dense':>8} {'load':>5}")
for link in links:
    dense = run_figures(f"{link}-allreduce")
    for s in strategies:
        f = run_figures(f"{link}-{name(s)}")
        if failure(f"{link}-{name(s)}"):
            print(f"{link:8} {s:15} failed: {failure(f'{link}-{name(s)}')}")
        if not f:
            continue
        rows[(link, s)] = f
        ratio = f["counted"] / dense["counted"] if dense else None
        err = 100 * (f["pred"] - f["step"]) / f["step"] if f["pred"] else None
        wc = f["wire"] / f["counted"] if f["counted"] else None
        diff = 100 * (f["final"] - dense["final"]) if dense else None
        print(f"{link:8} {s:15} {f['counted'] / 1e6:9.4f} "
              f"{f['wire'] / 1e6:9.4f} {cell(wc, '%7.3f')} "
              f"{cell(ratio, '%8.4f')} {f['step'] * 1e3:8.1f} "
              f"{cell(f['pred'] and f['pred'] * 1e3, '%8.1f')} "
              f"{cell(err, '%+5.0f%%')} {cell(f['steps'], '%6d')} "
              f"{cell(f['time'], '%8.1f')} {100 * f['final']:6.2f}% "
              f"{cell(diff, '%+8.2f')} {cell(f['load'], '%5.1f')}")
    print()

slow_db = os.path.join(out, "straggler.db")
slow_db = sqlite3.connect(slow_db) if os.path.exists(slow_db) else db
slow = {s: run_figures(f"slow-{name(s)}", slow_db)
        for s in ("allreduce", "ssp:2")}
for s in slow:
    if failure(f"slow-{name(s)}"):
        print(f"straggler {s}: failed: {failure(f'slow-{name(s)}')}")
if all(slow.values()):
    a, b = slow["allreduce"], slow["ssp:2"]
    print("straggler (unshaped, node 3 at 0.33 core): "
          f"allreduce {cell(a['time'], '%.1f')} s to target "
          f"({cell(a['steps'], '%d')} steps of {a['step'] * 1e3:.1f} ms), "
          f"ssp:2 {cell(b['time'], '%.1f')} s ({cell(b['steps'], '%d')} "
          f"steps of {b['step'] * 1e3:.1f} ms), largest staleness "
          f"{b['stale']}")

print(f"\nplanner (--target-accuracy {target}, sync searched, dp=4) against "
      "the measured fastest to target:")
for link in links:
    path = os.path.join(out, f"pick-{link}.json")
    if not os.path.exists(path):
        continue
    p = json.load(open(path))
    pick = p["plans"][0]["parallel"]["sync"]
    timed = [(f["time"], s) for (l, s), f in rows.items()
             if l == link and f["time"] is not None]
    best = min(timed)[1] if timed else "-"
    print(f"  {link:8} planner: {pick:15} measured: {best:15} "
          f"{'agree' if pick == best else 'DIFFER'}")
    print(f"           {p.get('target', {}).get('winner_strategy', '')}")
