#!/usr/bin/env python3
"""report.py - collects bench/run's wrk results; prints the table, writes the JSON.

    report.py add ROWS.jsonl --server S --scenario NAME --wrk WRK_OUTPUT [--set KEY=VALUE ...]
    report.py table ROWS.jsonl --out RESULT.json [--meta KEY=VALUE ...]

`add` takes the "BENCH_RESULT {...}" line that bench/wrk/lib.lua's done()
prints (wrk's own text around it is ignored) and appends one row.  `table`
prints one line per row - req/s, p50, p99, errors, and the ratio of req/s
to the hello-world baseline of the same run - then, when a peer service
(go, node) ran too, one line per scenario with each server's req/s and p99
side by side and orderd's req/s over each peer's and over the hello-world's,
then the body size of one answer for the rows that carry body_bytes (JSON
and msgpack), then the checks, and writes everything (with the raw wrk summaries) as one
JSON document.  Values given with --set/--meta are read as JSON when they
parse, else kept as text.
Exit status of `table`: 1 when a row carries "ok": false (a failed check).
Python 3 standard library only.
"""

import argparse
import json
import sys

MARK = "BENCH_RESULT "
BASELINE = ("hello", "baseline")
SUBJECT = "orderd"  # the server every peer is compared with


def parse_value(text):
    try:
        return json.loads(text)
    except ValueError:
        return text


def pairs(items):
    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"report.py: expected KEY=VALUE, got {item!r}")
        out[key] = parse_value(value)
    return out


def wrk_summary(path):
    with open(path, errors="replace") as f:
        for line in f:
            if line.startswith(MARK):
                return json.loads(line[len(MARK):])
    raise SystemExit(f"report.py: no {MARK.strip()} line in {path} (did wrk run the script?)")


def error_count(summary):
    """Socket errors plus every response that is not 2xx.

    With statuses counted the non-2xx figure is exact; otherwise wrk's own
    count (status >= 400) stands in for it.
    """
    errs = summary["errors"]
    sockets = errs["connect"] + errs["read"] + errs["write"] + errs["timeout"]
    statuses = summary.get("statuses")
    if statuses is not None:
        bad = sum(n for code, n in statuses.items() if not 200 <= int(code) < 300)
    else:
        bad = errs["status"]
    return sockets + bad


def cmd_add(args):
    summary = wrk_summary(args.wrk)
    row = {
        "server": args.server,
        "scenario": args.scenario,
        "rps": summary["rps"],
        "p50_ms": summary["latency_ms"]["p50"],
        "p99_ms": summary["latency_ms"]["p99"],
        "errors": error_count(summary),
        "wrk": summary,
    }
    row.update(pairs(args.set))
    with open(args.rows, "a") as f:
        f.write(json.dumps(row) + "\n")
    return 0


def load_rows(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def fmt_ms(v):
    return "-" if v is None else f"{v:.2f}"


def render_table(header, lines, left):
    widths = [max(len(h), *(len(line[i]) for line in lines)) if lines else len(h) for i, h in enumerate(header)]

    def render(cells):
        return "  ".join(c.ljust(w) if i in left else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    print(render(header))
    print("  ".join("-" * w for w in widths))
    for line in lines:
        print(render(line))


def side_by_side(rows, base):
    """orderd and its peers per scenario, in the order orderd ran them.

    Returns [] when no peer ran.  Ratios are orderd's req/s over the
    other's, all from this one run.
    """
    peers = [s for s in dict.fromkeys(r["server"] for r in rows) if s not in (SUBJECT, BASELINE[0])]
    if not peers:
        return []
    by_key = {(r["server"], r["scenario"]): r for r in rows}
    scenarios = dict.fromkeys(r["scenario"] for r in rows if r["server"] == SUBJECT)
    out = []
    for scenario in scenarios:
        ours = by_key[(SUBJECT, scenario)]
        entry = {"scenario": scenario, SUBJECT: {"rps": ours["rps"], "p99_ms": ours["p99_ms"]}}
        for peer in peers:
            theirs = by_key.get((peer, scenario))
            if theirs is None:
                continue
            entry[peer] = {"rps": theirs["rps"], "p99_ms": theirs["p99_ms"]}
            entry[f"{SUBJECT}_over_{peer}"] = round(ours["rps"] / theirs["rps"], 3) if theirs["rps"] else None
        entry[f"{SUBJECT}_over_hello"] = round(ours["rps"] / base, 3) if base else None
        out.append(entry)
    return out


def print_side_by_side(entries):
    if not entries:
        return
    peers = [k for k in dict.fromkeys(k for e in entries for k in e)
             if k not in ("scenario", SUBJECT) and not k.startswith(SUBJECT + "_over_")]

    def cell(e, server):
        v = e.get(server)
        return "-" if v is None else f"{v['rps']:,.0f} ({fmt_ms(v['p99_ms'])})"

    def ratio(e, key):
        v = e.get(key)
        return "-" if v is None else f"{v:.2f}"

    header = ("scenario", f"{SUBJECT} req/s (p99 ms)", *(f"{p} req/s (p99 ms)" for p in peers),
              *(f"{SUBJECT}/{p}" for p in peers), f"{SUBJECT}/hello")
    lines = [(e["scenario"], cell(e, SUBJECT), *(cell(e, p) for p in peers),
              *(ratio(e, f"{SUBJECT}_over_{p}") for p in peers), ratio(e, f"{SUBJECT}_over_hello"))
             for e in entries]
    print()
    render_table(header, lines, {0})


def cmd_table(args):
    rows = load_rows(args.rows)
    base = next((r["rps"] for r in rows if (r["server"], r["scenario"]) == BASELINE), None)
    for r in rows:
        r["ratio"] = round(r["rps"] / base, 3) if base else None

    header = ("server", "scenario", "req/s", "p50 ms", "p99 ms", "errors", "x hello")
    lines = [(r["server"], r["scenario"], f"{r['rps']:,.0f}", fmt_ms(r["p50_ms"]), fmt_ms(r["p99_ms"]),
              f"{r['errors']:,}", "-" if r["ratio"] is None else f"{r['ratio']:.2f}") for r in rows]
    render_table(header, lines, {0, 1})
    pairs_doc = side_by_side(rows, base)
    print_side_by_side(pairs_doc)

    sized = [r for r in rows if r.get("body_bytes")]
    if sized:
        print("\nbytes per response (the body of one answer, curl):")
        render_table(("server", "scenario", "body bytes"),
                     [(r["server"], r["scenario"], f"{r['body_bytes']:,}") for r in sized], {0, 1})

    failed = False
    notes = [r for r in rows if r.get("check")]
    if notes:
        print()
        for r in notes:
            verdict = "" if "ok" not in r else ("  OK" if r["ok"] else "  FAILED")
            print(f"{r['server']} {r['scenario']}: {r['check']}{verdict}")
            failed |= r.get("ok") is False

    doc = {"meta": pairs(args.meta), "baseline_rps": base, "rows": rows, "side_by_side": pairs_doc,
           "ok": not failed}
    with open(args.out, "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    print(f"\nwritten to {args.out}")
    return 1 if failed else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    add = sub.add_parser("add")
    add.add_argument("rows")
    add.add_argument("--server", required=True)
    add.add_argument("--scenario", required=True)
    add.add_argument("--wrk", required=True)
    add.add_argument("--set", action="append")
    table = sub.add_parser("table")
    table.add_argument("rows")
    table.add_argument("--out", required=True)
    table.add_argument("--meta", action="append")
    args = parser.parse_args()
    return cmd_add(args) if args.cmd == "add" else cmd_table(args)


if __name__ == "__main__":
    sys.exit(main())
