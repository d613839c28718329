#!/usr/bin/env python3
"""curves_report.py - bench/curves' points: a table per curve, the JSON, an SVG plot.

    curves_report.py ROWS.jsonl --out RESULT.json [--meta KEY=VALUE ...]

ROWS.jsonl holds bench/report.py rows (bench/curves adds them with
`report.py add ... --set curve=... --set series=... --set x=...`) and
skipped points ({"server", "curve", "x", "skipped"}).  Prints, per curve,
one line per x with each series' req/s, p99 and errors; writes RESULT.json
({"meta", "curves": {curve: {"x": label, "series": {name: [points]}}},
"skipped", "rows"}) and RESULT.svg next to it: per curve, req/s and p99
against x, one line per series, x on a log scale where it spans decades.
Python 3 standard library only.
"""

import argparse
import json
import math
import os
import sys
from html import escape

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from report import fmt_ms, pairs, render_table  # noqa: E402  (bench/report.py)

# What each curve's x is, in the order they are shown.
X_LABELS = {
    "connections": "connections (wrk -c)",
    "dataset": "orders in the database",
    "items": "items per order",
    "zipf": "Zipf exponent s (0 = uniform)",
}
LOG_X = {"connections", "dataset"}
COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"]


def load(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def group(rows):
    curves, skipped = {}, []
    for r in rows:
        if "skipped" in r:
            skipped.append(r)
            continue
        point = {"x": r["x"], "rps": r["rps"], "p50_ms": r["p50_ms"], "p99_ms": r["p99_ms"],
                 "errors": r["errors"]}
        if "zipf" in r.get("wrk", {}):
            point["zipf"] = r["wrk"]["zipf"]
        series = curves.setdefault(r["curve"], {"x": X_LABELS.get(r["curve"], "x"), "series": {}})["series"]
        series.setdefault(r["series"], []).append(point)
    for c in curves.values():
        for points in c["series"].values():
            points.sort(key=lambda p: p["x"])
    return curves, skipped


def fmt_x(x):
    if isinstance(x, float) and not x.is_integer():
        return f"{x:g}"
    x = int(x)
    if x >= 1_000_000 and x % 1_000_000 == 0:
        return f"{x // 1_000_000}M"
    if x >= 1000 and x % 1000 == 0:
        return f"{x // 1000}k"
    return str(x)


def print_curves(curves, skipped):
    for name, c in curves.items():
        names = list(c["series"])
        xs = sorted({p["x"] for pts in c["series"].values() for p in pts})
        header = (c["x"], *(f"{s} req/s (p99 ms, errors)" for s in names))
        lines = []
        for x in xs:
            cells = [fmt_x(x)]
            for s in names:
                p = next((p for p in c["series"][s] if p["x"] == x), None)
                cells.append("-" if p is None else f"{p['rps']:,.0f} ({fmt_ms(p['p99_ms'])}, {p['errors']:,})")
            lines.append(tuple(cells))
        print(f"\n{name}")
        render_table(header, lines, {0})
    for s in skipped:
        print(f"\nskipped: {s['server']} {s['curve']} at {fmt_x(s['x'])}: {s['skipped']}")


# ---- SVG ----------------------------------------------------------------------

W, H = 420, 260  # one chart
MARGIN = {"left": 64, "right": 30, "top": 28, "bottom": 44}


def nice_ticks(lo, hi, count=5):
    """Round tick values covering lo..hi."""
    if hi <= lo:
        hi = lo + 1
    step = 10 ** math.floor(math.log10((hi - lo) / count))
    for m in (1, 2, 5, 10):
        if (hi - lo) / (step * m) <= count:
            step *= m
            break
    ticks = [math.floor(lo / step) * step]
    while ticks[-1] < hi - step * 1e-9:  # the last tick is at or above hi
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


def chart(x0, y0, title, x_label, series, metric, log_x):
    """One chart's SVG elements, its top-left corner at (x0, y0)."""
    pts = [(p["x"], p[metric]) for s in series.values() for p in s if p[metric] is not None]
    out = [f'<g transform="translate({x0},{y0})">',
           f'<text x="{W / 2}" y="16" text-anchor="middle" font-weight="bold">{escape(title)}</text>']
    if not pts:
        return out + ["</g>"]
    xs = sorted({x for x, _ in pts})
    fx = (lambda v: math.log10(v)) if log_x and xs[0] > 0 else (lambda v: v)
    lo_x, hi_x = fx(xs[0]), fx(xs[-1])
    if hi_x == lo_x:
        lo_x, hi_x = lo_x - 1, hi_x + 1
    y_ticks = nice_ticks(0, max(y for _, y in pts) * 1.05)
    hi_y = y_ticks[-1] or 1
    left, top = MARGIN["left"], MARGIN["top"]
    pw, ph = W - left - MARGIN["right"], H - top - MARGIN["bottom"]

    def px(v):
        return left + (fx(v) - lo_x) / (hi_x - lo_x) * pw

    def py(v):
        return top + ph - v / hi_y * ph

    out.append(f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#999"/>')
    for t in y_ticks:
        y = py(t)
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + pw}" y2="{y:.1f}" stroke="#eee"/>')
        label = f"{t:,.0f}" if metric == "rps" else f"{t:g}"
        out.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{label}</text>')
    for x in xs:
        out.append(f'<text x="{px(x):.1f}" y="{top + ph + 16}" text-anchor="middle">{fmt_x(x)}</text>')
    out.append(f'<text x="{left + pw / 2}" y="{H - 8}" text-anchor="middle">{escape(x_label)}</text>')
    for i, (name, points) in enumerate(series.items()):
        colour = COLOURS[i % len(COLOURS)]
        coords = [(px(p["x"]), py(p[metric])) for p in points if p[metric] is not None]
        if len(coords) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
            out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        out += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"/>' for x, y in coords]
    return out + ["</g>"]


def svg(curves, meta):
    names = list(curves)
    legend_rows = max((len(c["series"]) for c in curves.values()), default=0)
    block = H + 16 * legend_rows + 24
    width, height = 2 * W, 40 + block * len(names)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'font-family="sans-serif" font-size="11">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="10" y="20" font-size="13">bench/curves {escape(str(meta.get("started_utc", "")))}'
           f' - commit {escape(str(meta.get("git_commit", ""))[:12])}, {meta.get("duration_s", "?")} s a point,'
           f' {meta.get("cpus", "?")} CPUs shared by wrk and the servers</text>']
    for row, name in enumerate(names):
        c = curves[name]
        y0 = 30 + row * block
        out += chart(0, y0, f"{name}: req/s", c["x"], c["series"], "rps", name in LOG_X)
        out += chart(W, y0, f"{name}: p99 latency (ms)", c["x"], c["series"], "p99_ms", name in LOG_X)
        for i, series in enumerate(c["series"]):
            y = y0 + H + 6 + 16 * i
            colour = COLOURS[i % len(COLOURS)]
            out.append(f'<rect x="{MARGIN["left"]}" y="{y}" width="12" height="3" fill="{colour}"/>')
            out.append(f'<text x="{MARGIN["left"] + 18}" y="{y + 5}">{escape(series)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rows")
    parser.add_argument("--out", required=True)
    parser.add_argument("--meta", action="append")
    args = parser.parse_args()
    rows = load(args.rows)
    meta = pairs(args.meta)
    curves, skipped = group(rows)
    print_curves(curves, skipped)
    doc = {"meta": meta, "curves": curves, "skipped": skipped, "rows": rows}
    with open(args.out, "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    plot = os.path.splitext(args.out)[0] + ".svg"
    with open(plot, "w") as f:
        f.write(svg(curves, meta))
    print(f"\nwritten to {args.out} and {plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
