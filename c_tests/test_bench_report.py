#!/usr/bin/env python3
"""Checks the `make bench` report on made-up measures: every chart is well-formed SVG,
every case and event is drawn (the wide-area cases too), and the histogram counts every sample once."""
import os
import re
import subprocess
import sys
import tempfile
import unittest
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_report  # noqa: E402

CASES = [(64, 1, 20000), (64, 16, 80000), (1024, 4, 40000), (8192, 16, 16000)]


class Report(unittest.TestCase):
    def test_histogram_counts_each_sample_once(self):
        # bins of a tenth of a decade from 0.1 ms: [0.1, 0.126), [0.126, 0.158), ...
        samples = [0.05, 0.1, 0.11, 0.13, 0.99, 1.0, 1.1, 20.0]
        bins = bench_report.histogram(samples, 0.1, 10)
        self.assertEqual(sum(bins), len(samples))
        self.assertEqual(bins[0], 3)  # 0.05 (below the first bin) counts in it
        self.assertEqual(bins[1], 1)
        self.assertEqual(bins[9], 1)
        self.assertEqual(bins[10], 2)
        self.assertEqual(len(bins), 24)

    def test_fmt_keeps_ticks_apart(self):
        self.assertEqual([bench_report.fmt(v) for v in (1600, 2000, 1500000, 0.25, 3)],
                         ["1.6k", "2k", "1.5M", "0.25", "3"])

    def test_nice_max_is_round_and_not_below(self):
        for v, want in [(0.37, 0.5), (0.2, 0.2), (7, 10), (123, 200), (1800, 2000), (41000, 50000)]:
            self.assertEqual(bench_report.nice_max(v), want)

    def test_report_has_seven_charts_with_the_data(self):
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "latency.tsv"), "w") as f:
                f.write("".join("%.4f\n" % (0.5 + (i % 100) / 100) for i in range(1000)))
            with open(os.path.join(d, "floor.tsv"), "w") as f:
                f.write("disk1\t0.1100\t0.2000\ndisk3\t0.2050\t0.3100\nram\t0.1400\t0.3000\n")
            with open(os.path.join(d, "throughput.tsv"), "w") as f:
                f.write("".join("%d\t%d\t%d\t%.3f\n" % (s, w, r, r * s / 1e6) for s, w, r in CASES))
            with open(os.path.join(d, "streams.tsv"), "w") as f:
                f.write("8192\t16\t50000\t409.600\t100.1\t110.2\t99.3\t100.0\n")
                f.write("64\t16\t400000\t25.600\t6.4\t6.4\t6.3\t6.5\n")
            with open(os.path.join(d, "five.tsv"), "w") as f:
                f.write("64\t16\t300000\t19.200\t3.1\t1.2\t4.10\n8192\t16\t40000\t327.680\t3.0\t1.1\t4.02\n")
            with open(os.path.join(d, "failover.tsv"), "w") as f:
                f.write("event\t0\t1\tSIGKILL of leader 1\n")
                for k in range(20):
                    f.write("sample\t%.2f\t2\t%d\n" % (k * 0.1, 100 + max(0, k - 12) * 50))
                f.write("event\t1.1\t2\tnode 2 is leader\nevent\t1.25\t2\tfirst commit on node 2\n")
            with open(os.path.join(d, "wan.tsv"), "w") as f:
                f.write("0\t0.3\t0.6\t200.000\t4.000\n1\t1.3\t1.8\t190.000\t4.100\n")
                f.write("10\t10.4\t11.0\t150.000\t4.500\n50\t50.4\t51.0\t60.000\t5.000\n")
            with open(os.path.join(d, "table.txt"), "w") as f:
                f.write("throughput <table>\n")
            out = subprocess.run([sys.executable, bench_report.__file__, d], check=True,
                                 capture_output=True, text=True).stdout
            self.assertIn("report.html", out)
            with open(os.path.join(d, "report.html")) as f:
                page = f.read()
        svgs = re.findall(r"<svg.*?</svg>", page, re.S)
        self.assertEqual(len(svgs), 7)
        trees = [ET.fromstring(s) for s in svgs]
        ns = "{http://www.w3.org/2000/svg}"
        bars = [r for r in trees[0].iter(ns + "rect")]
        self.assertEqual(len(bars), len(CASES))
        self.assertEqual(len(list(trees[1].iter(ns + "rect"))), 8)
        self.assertIn("stream 2, 8192 B, 16 writers: 110.2 MB/s", page)
        self.assertIn("409.6 MB/s in all", page)
        # five nodes beside three nodes for each size
        self.assertEqual(len(list(trees[2].iter(ns + "rect"))), 4)
        self.assertIn("five nodes, 8192 B, 16 writers: 327.7 MB/s", page)
        self.assertIn("8.2k B, 16 w: leader 1.1 s CPU/GB, sends 4.02 B/B", page)
        self.assertTrue(list(trees[3].iter(ns + "rect")))
        self.assertIn("16 writers: 80000 entries/s", page)
        self.assertIn("p50 1.000 ms", page)
        # the disk's floor and the RAM-disk latency marked on the latency chart, named below it
        marks = [t.text for t in trees[3].iter(ns + "text") if t.text and ("floor" in t.text or "RAM" in t.text)]
        self.assertEqual(marks, ["disk floor 0.205 ms", "RAM disk 0.140 ms"])
        self.assertIn("Disk floor, three syncs at once: p50 0.205 ms, p99 0.310 ms.", page)
        self.assertIn("On a RAM disk: p50 0.140 ms, p99 0.300 ms.", page)
        self.assertEqual(len(list(trees[4].iter(ns + "polyline"))), 1)
        for label in ("SIGKILL of leader 1", "node 2 is leader", "first commit on node 2"):
            self.assertIn(label, page)
        # wide-area: p50 and p99 per round trip, a limit for each added one; one bar each
        self.assertEqual(len(list(trees[5].iter(ns + "rect"))), 8)
        self.assertEqual(len(list(trees[5].iter(ns + "line"))), 2 + 6 + 3)
        self.assertIn("RTT 10 ms: p99 11.000 ms", page)
        self.assertEqual(len(list(trees[6].iter(ns + "rect"))), 4)
        self.assertIn("150.0 MB/s (75% of loopback)", page)
        self.assertIn("70% of loopback", page)
        self.assertIn("throughput &lt;table&gt;", page)
        self.assertNotIn("http://", page.replace("http://www.w3.org/2000/svg", ""))


if __name__ == "__main__":
    unittest.main()
