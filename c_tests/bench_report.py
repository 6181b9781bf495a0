#!/usr/bin/env python3
"""Writes the `make bench` report: one self-contained HTML file with inline SVG charts
(no scripts, no network) from the data files c_tests/bench.c leaves in DIR:
throughput.tsv, latency.tsv, floor.tsv, failover.tsv, streams.tsv, five.tsv, wan.tsv (c_tests/bench_wan.c),
and the printed tables in table.txt and wan.txt.

    bench_report.py DIR            -> DIR/report.html
"""
import html
import math
import os
import sys

W, H = 760, 300
L, R, T, B = 70, 20, 30, 50  # plot margins
COLORS = ["#3366cc", "#dc3912", "#109618", "#ff9900", "#990099"]


def read_rows(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [line.rstrip("\n").split("\t") for line in f if line.strip()]


def nice_max(v):
    """A round axis maximum at or above v."""
    if v <= 0:
        return 1.0
    step = 10 ** len(str(int(v))) / 10 if v >= 1 else 0.1
    while step > v:
        step /= 10
    for m in (1, 2, 2.5, 5, 10):
        if m * step >= v:
            return m * step
    return 10 * step


def fmt(v):
    for div, unit in ((1e6, "M"), (1e3, "k")):
        if v >= div:
            return ("%.1f" % (v / div)).rstrip("0").rstrip(".") + unit
    if v == int(v):
        return "%d" % v
    return "%.3g" % v


class Svg:
    """A chart area with data coordinates mapped into the plot box."""

    def __init__(self, title, xmax, ymax, xlabel, ylabel, xmin=0.0):
        self.xmin, self.xmax, self.ymax = xmin, xmax, ymax
        self.parts = [
            '<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">' % (W, H),
            '<text x="%d" y="18" font-size="14" font-weight="bold">%s</text>' % (L, html.escape(title)),
            '<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>' % (L, H - B, W - R, H - B),
            '<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>' % (L, T, L, H - B),
            '<text x="%d" y="%d" text-anchor="middle">%s</text>' % ((L + W - R) / 2, H - 10, html.escape(xlabel)),
            '<text x="15" y="%d" text-anchor="middle" transform="rotate(-90 15 %d)">%s</text>'
            % ((T + H - B) / 2, (T + H - B) / 2, html.escape(ylabel)),
        ]
        for k in range(6):
            v = ymax * k / 5
            y = self.y(v)
            self.parts.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>' % (L, y, W - R, y))
            self.parts.append('<text x="%d" y="%.1f" text-anchor="end">%s</text>' % (L - 5, y + 4, fmt(v)))

    def x(self, v):
        return L + (v - self.xmin) / ((self.xmax - self.xmin) or 1) * (W - L - R)

    def y(self, v):
        return H - B - v / (self.ymax or 1) * (H - T - B)

    def add(self, s):
        self.parts.append(s)

    def xticks(self, n=5):
        for k in range(n + 1):
            v = self.xmin + (self.xmax - self.xmin) * k / n
            self.add('<text x="%.1f" y="%d" text-anchor="middle">%s</text>' % (self.x(v), H - B + 16, fmt(round(v, 3))))

    def render(self):
        return "\n".join(self.parts + ["</svg>"])


PER_DECADE = 10


def histogram(samples, lo, per_decade):
    """Counts of positive samples in log-spaced bins from lo (per_decade bins per factor of
    10): a latency tail of 100x the median stays on the chart."""
    bins = []
    for v in samples:
        k = max(0, int(math.floor(math.log10(max(v, lo) / lo) * per_decade + 1e-9)))
        bins.extend([0] * (k + 1 - len(bins)))
        bins[k] += 1
    return bins


# floor.tsv's labels drawn on the latency chart: (mark on the chart, line below it)
FLOOR_NAMES = {"disk3": ("disk floor", "disk floor, three syncs at once"), "ram": ("RAM disk", "on a RAM disk")}


def latency_chart(samples, floor=()):
    """The histogram of commit latencies, with the p50 of the disk's floor (floor.tsv: three
    pwrite + fdatasync at once) and of the same commits on a RAM disk marked beside it."""
    if not samples:
        return "<p>No latency samples.</p>"
    s = sorted(samples)
    p50, p99 = s[len(s) // 2], s[len(s) * 99 // 100]
    lo = 10 ** math.floor(math.log10(max(s[0], 1e-3)))
    bins = histogram(s, lo, PER_DECADE)
    decades = max(1, math.ceil(len(bins) / PER_DECADE))
    hi = lo * 10 ** decades
    c = Svg("Commit latency, 64 B entries, one writer (%d samples)" % len(s), math.log10(hi), nice_max(max(bins)),
            "commit latency (ms, log scale)", "samples", xmin=math.log10(lo))
    for k in range(decades + 1):
        v = lo * 10 ** k
        c.add('<text x="%.1f" y="%d" text-anchor="middle">%s</text>' % (c.x(math.log10(v)), H - B + 16, fmt(v)))
    for i, n in enumerate(bins):
        if n:
            x0, x1 = c.x(math.log10(lo) + i / PER_DECADE), c.x(math.log10(lo) + (i + 1) / PER_DECADE)
            c.add('<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"/>'
                  % (x0 + 0.5, c.y(n), x1 - x0 - 1, c.y(0) - c.y(n), COLORS[0]))
    for k, (name, v) in enumerate((("p50", p50), ("p99", p99))):
        x = c.x(math.log10(max(v, lo)))
        c.add('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s" stroke-dasharray="4 3"/>' % (x, T, x, H - B, COLORS[1]))
        c.add('<text x="%.1f" y="%d" fill="%s">%s %.3f ms</text>' % (x + 3, T + 12 + 14 * k, COLORS[1], name, v))
    marks = [(r[0], float(r[1]), float(r[2])) for r in floor if len(r) > 2 and r[0] in FLOOR_NAMES]
    for k, (name, v, _) in enumerate(marks):
        x = c.x(math.log10(max(v, lo)))
        c.add('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s" stroke-dasharray="2 2"/>' % (x, T, x, H - B, COLORS[2 + k]))
        c.add('<text x="%.1f" y="%d" fill="%s">%s %.3f ms</text>'
              % (x + 3, T + 40 + 14 * k, COLORS[2 + k], FLOOR_NAMES[name][0], v))
    note = "<p>p50 %.3f ms, p99 %.3f ms, max %.3f ms.</p>" % (p50, p99, s[-1])
    for name, v50, v99 in marks:
        label = FLOOR_NAMES[name][1]
        note += "<p>%s: p50 %.3f ms, p99 %.3f ms.</p>" % (label[0].upper() + label[1:], v50, v99)
    return c.render() + note


def throughput_chart(rows):
    if not rows:
        return "<p>No throughput cases.</p>"
    cases = [(int(r[0]), int(r[1]), float(r[2]), float(r[3])) for r in rows]
    c = Svg("Committed entries per second by entry size and writer threads", len(cases), nice_max(max(x[2] for x in cases)),
            "", "entries/s")
    bw = (W - L - R) / len(cases)
    sizes = sorted({x[0] for x in cases})
    for i, (size, writers, rate, mbps) in enumerate(cases):
        x0 = L + i * bw
        color = COLORS[sizes.index(size) % len(COLORS)]
        c.add('<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%d B, %d writers: %.0f entries/s, %.1f MB/s</title></rect>'
              % (x0 + 4, c.y(rate), bw - 8, c.y(0) - c.y(rate), color, size, writers, rate, mbps))
        c.add('<text x="%.1f" y="%.1f" text-anchor="middle" font-size="10">%.1f MB/s</text>' % (x0 + bw / 2, c.y(rate) - 4, mbps))
        c.add('<text x="%.1f" y="%d" text-anchor="middle" font-size="11">%s B</text>' % (x0 + bw / 2, H - B + 14, fmt(size)))
        c.add('<text x="%.1f" y="%d" text-anchor="middle" font-size="11">%d w</text>' % (x0 + bw / 2, H - B + 28, writers))
    return c.render()


def streams_chart(rows):
    """One group of bars per case (size, writers) over several streams: each stream's MB/s,
    so that a stream slowed down by the others shows."""
    cases = [(int(r[0]), int(r[1]), float(r[3]), [float(v) for v in r[4:]]) for r in rows if len(r) > 4]
    if not cases:
        return "<p>No multi-stream cases.</p>"
    n = max(len(x[3]) for x in cases)
    c = Svg("Each stream's MB/s, %d streams on the same three nodes" % n, len(cases),
            nice_max(max(max(x[3]) for x in cases)), "", "MB/s per stream")
    gw = (W - L - R) / len(cases)
    for i, (size, writers, total, shares) in enumerate(cases):
        bw = (gw - 16) / len(shares)
        for k, v in enumerate(shares):
            x0 = L + i * gw + 8 + k * bw
            c.add('<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>stream %d, %d B, %d writers: %.1f MB/s</title></rect>'
                  % (x0 + 1, c.y(v), bw - 2, c.y(0) - c.y(v), COLORS[k % len(COLORS)], k + 1, size, writers, v))
        c.add('<text x="%.1f" y="%d" text-anchor="middle" font-size="11">%s B, %d w: %.1f MB/s in all</text>'
              % (L + i * gw + gw / 2, H - B + 14, fmt(size), writers, total))
    return c.render()


def five_chart(five, three):
    """Per entry size, the MB/s of five nodes beside three nodes' at the same writers, with
    the five-node leader's CPU per GB and the bytes it sends per byte written."""
    cases = [(int(r[0]), int(r[1]), float(r[3]), float(r[5]), float(r[6])) for r in five if len(r) > 6]
    if not cases:
        return "<p>No five-node case.</p>"
    base = {(int(r[0]), int(r[1])): float(r[3]) for r in three if len(r) > 3}
    top = max(max(x[2], base.get((x[0], x[1]), 0)) for x in cases)
    c = Svg("MB/s with five nodes (blue) and three nodes (red), same writers", len(cases), nice_max(top), "", "MB/s")
    gw = (W - L - R) / len(cases)
    for i, (size, writers, mbps, leader_cpu, sent) in enumerate(cases):
        for k, v in enumerate((mbps, base.get((size, writers), 0))):
            x0 = L + i * gw + 8 + k * (gw - 16) / 2
            c.add('<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s nodes, %d B, %d writers: %.1f MB/s</title></rect>'
                  % (x0 + 1, c.y(v), (gw - 16) / 2 - 2, c.y(0) - c.y(v), COLORS[k], "five" if k == 0 else "three", size, writers, v))
        c.add('<text x="%.1f" y="%d" text-anchor="middle" font-size="11">%s B, %d w: leader %.1f s CPU/GB, sends %.2f B/B</text>'
              % (L + i * gw + gw / 2, H - B + 14, fmt(size), writers, leader_cpu, sent))
    return c.render()


def failover_chart(rows):
    events = [(float(r[1]), int(r[2]), r[3]) for r in rows if r[0] == "event"]
    samples = [(float(r[1]), int(r[2]), int(r[3])) for r in rows if r[0] == "sample"]
    if not events:
        return "<p>No failover run.</p>"
    nodes = sorted({n for _, n, _ in samples})
    tmax = max([t for t, _, _ in samples] + [t for t, _, _ in events] + [0.1])
    lo = min((i for _, _, i in samples if i), default=0)
    hi = max((i for _, _, i in samples), default=1)
    c = Svg("Failover: applied index of the surviving nodes after SIGKILL of the leader", tmax, nice_max(hi - lo),
            "seconds since SIGKILL", "entries applied after the kill" if lo else "applied index")
    c.xticks()
    for k, node in enumerate(nodes):
        pts = [(t, max(i - lo, 0)) for t, n, i in samples if n == node]
        path = " ".join("%.1f,%.1f" % (c.x(t), c.y(v)) for t, v in pts)
        color = COLORS[k % len(COLORS)]
        c.add('<polyline points="%s" fill="none" stroke="%s" stroke-width="2"/>' % (path, color))
        c.add('<text x="%d" y="%d" fill="%s">node %d</text>' % (W - R - 60, T + 14 * (k + 1), color, node))
    for k, (t, _, label) in enumerate(events):
        c.add('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#555" stroke-dasharray="3 3"/>' % (c.x(t), T, c.x(t), H - B))
        c.add('<text x="%.1f" y="%d" font-size="11">%s (%.3f s)</text>' % (c.x(t) + 3, T + 40 + 14 * k, html.escape(label), t))
    items = "".join("<li>%.3f s: %s</li>" % (t, html.escape(label)) for t, _, label in events)
    return c.render() + "<ul>%s</ul>" % items


def wan_rows(rows):
    """(rtt ms, p50 ms, p99 ms, MB/s, CPU s/GB) per round trip of wan.tsv; -1 where missing."""
    return [tuple(float(v) for v in r[:5]) for r in rows if len(r) >= 5]


def wan_latency_chart(cases):
    """p50 and p99 bars per round trip, and each round trip's limit (RTT + 0.5 ms)."""
    cases = [c for c in cases if c[1] >= 0]
    if not cases:
        return "<p>No wide-area latency cases.</p>"
    top = max(max(c[2] for c in cases), max(c[0] + 0.5 for c in cases))
    c = Svg("Commit latency, 64 B, one writer, by added round trip", len(cases), nice_max(top), "", "ms")
    gw = (W - L - R) / len(cases)
    for i, (rtt, p50, p99, _, _) in enumerate(cases):
        bw = (gw - 16) / 2
        for k, (name, v) in enumerate((("p50", p50), ("p99", p99))):
            x0 = L + i * gw + 8 + k * bw
            c.add('<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>RTT %g ms: %s %.3f ms</title></rect>'
                  % (x0 + 1, c.y(v), bw - 2, c.y(0) - c.y(v), COLORS[k], rtt, name, v))
            c.add('<text x="%.1f" y="%.1f" text-anchor="middle" font-size="10">%.2f</text>' % (x0 + bw / 2, c.y(v) - 4, v))
        if rtt > 0:
            y = c.y(rtt + 0.5)
            c.add('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="black" stroke-dasharray="4 3"><title>limit RTT + 0.5 ms</title></line>'
                  % (L + i * gw + 4, y, L + (i + 1) * gw - 4, y))
        c.add('<text x="%.1f" y="%d" text-anchor="middle" font-size="11">RTT %g ms</text>' % (L + i * gw + gw / 2, H - B + 14, rtt))
    c.add('<text x="%d" y="%d" fill="%s">p50</text><text x="%d" y="%d" fill="%s">p99</text>'
          % (W - R - 110, T + 12, COLORS[0], W - R - 70, T + 12, COLORS[1]))
    return c.render() + "<p>Dashed: the limit, RTT + 0.5 ms.</p>"


def wan_throughput_chart(cases):
    """8 KiB x 16 writers MB/s per round trip, with 70% of the loopback rate marked."""
    cases = [c for c in cases if c[3] >= 0]
    if not cases:
        return "<p>No wide-area throughput cases.</p>"
    loop = next((c[3] for c in cases if c[0] == 0), None)
    c = Svg("8 KiB entries, 16 writers x 64 in flight, by added round trip", len(cases),
            nice_max(max(x[3] for x in cases)), "", "MB/s")
    bw = (W - L - R) / len(cases)
    for i, (rtt, _, _, mbps, cpu) in enumerate(cases):
        x0 = L + i * bw
        share = " (%.0f%% of loopback)" % (100 * mbps / loop) if loop and rtt > 0 else ""
        c.add('<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>RTT %g ms: %.1f MB/s%s, CPU %.1f s/GB</title></rect>'
              % (x0 + 8, c.y(mbps), bw - 16, c.y(0) - c.y(mbps), COLORS[2], rtt, mbps, share, cpu))
        c.add('<text x="%.1f" y="%.1f" text-anchor="middle" font-size="10">%.1f MB/s%s</text>' % (x0 + bw / 2, c.y(mbps) - 4, mbps, share))
        c.add('<text x="%.1f" y="%d" text-anchor="middle" font-size="11">%s</text>'
              % (x0 + bw / 2, H - B + 14, "loopback" if rtt == 0 else "RTT %g ms" % rtt))
        c.add('<text x="%.1f" y="%d" text-anchor="middle" font-size="11">CPU %.1f s/GB</text>' % (x0 + bw / 2, H - B + 28, cpu))
    if loop:
        y = c.y(0.7 * loop)
        c.add('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="black" stroke-dasharray="4 3"/>' % (L, y, W - R, y))
        c.add('<text x="%d" y="%.1f" font-size="11">70%% of loopback</text>' % (W - R - 100, y - 4))
    return c.render()


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: bench_report.py DIR")
    d = sys.argv[1]
    table = ""
    if os.path.exists(os.path.join(d, "table.txt")):
        with open(os.path.join(d, "table.txt")) as f:
            table = f.read()
    if os.path.exists(os.path.join(d, "wan.txt")):
        with open(os.path.join(d, "wan.txt")) as f:
            table += f.read()
    lat = [float(r[0]) for r in read_rows(os.path.join(d, "latency.tsv"))]
    wan = wan_rows(read_rows(os.path.join(d, "wan.tsv")))
    page = [
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>libdcf-rs benchmark</title>",
        "<style>body{font-family:sans-serif;max-width:800px;margin:20px auto}pre{background:#f4f4f4;padding:8px;font-size:11px;overflow-x:auto}</style>",
        "</head><body><h1>libdcf-rs benchmark</h1>",
        "<h2>Throughput</h2>", throughput_chart(read_rows(os.path.join(d, "throughput.tsv"))),
        "<h2>Streams</h2>", streams_chart(read_rows(os.path.join(d, "streams.tsv"))),
        "<h2>Five nodes</h2>", five_chart(read_rows(os.path.join(d, "five.tsv")), read_rows(os.path.join(d, "throughput.tsv"))),
        "<h2>Commit latency</h2>", latency_chart(lat, read_rows(os.path.join(d, "floor.tsv"))),
        "<h2>Failover</h2>", failover_chart(read_rows(os.path.join(d, "failover.tsv"))),
        "<h2>Wide-area links</h2>", wan_latency_chart(wan), wan_throughput_chart(wan),
        "<h2>Table</h2><pre>%s</pre>" % html.escape(table),
        "</body></html>",
    ]
    out = os.path.join(d, "report.html")
    with open(out, "w") as f:
        f.write("\n".join(page))
    print("report: %s (%d bytes)" % (os.path.abspath(out), os.path.getsize(out)))


if __name__ == "__main__":
    main()
