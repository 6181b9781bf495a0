/* make bench, wide-area links: three nodes whose every link has a round trip of RTT more.
 *   bench_wan <bench binary> <dcf_node binary> <work dir> [seconds per case [report data dir]]
 * Each case is one run of the bench program (c_tests/bench.c: this process, node 1, with two
 * dcf_node processes) restricted to one case with BENCH_ONLY, so the measuring code is bench's
 * own. The link delay is the transport's test seam: DCF_TEST_LINK_DELAY_US, set here to half
 * the round trip and inherited by all three node processes, holds every datagram a node sends
 * for that long (docs/ARCHITECTURE.md, "Wide-area links", says why not a relay).
 * At RTT 0 (loopback, in the same run, the reference) and at 1, 10 and 50 ms (BENCH_WAN_RTTS
 * to choose others, e.g. "0,10"): the single-writer 64 B commit latency p50/p99 against
 * RTT + 0.5 ms, and 8 KiB x 16 writers x 64 in flight: MB/s, CPU s/GB, and the share of the
 * loopback rate. With a report directory, writes wan.tsv there:
 *   rtt_ms  p50_ms  p99_ms  MB/s  cpu_s_per_GB
 * Each case's node data is deleted after a successful run. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "node_common.h"

#define MAX_RTTS 8

/* The number just before `unit` in `line` ("  123.4 MB/s" -> 123.4), or -1. */
static double number_before(const char *line, const char *unit)
{
    const char *u = strstr(line, unit);
    if (!u) return -1;
    const char *p = u;
    while (p > line && p[-1] == ' ') p--;
    while (p > line && (strchr("0123456789.", p[-1]))) p--;
    return p < u ? atof(p) : -1;
}

typedef struct {
    double p50, p99, mbps, cpu_gb;
} measures_t;

/* Runs `bench` with BENCH_ONLY=only and the link delay of `rtt_ms` / 2, echoing its output
 * and picking the figures out of it. 0 on success. */
static int run_bench(const char *bench, const char *node_bin, const char *secs, const char *dir, double rtt_ms,
                     const char *only, measures_t *m)
{
    int fd[2];
    if (pipe(fd)) return -1;
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        char us[32];
        snprintf(us, sizeof us, "%.0f", rtt_ms * 500);
        if (rtt_ms > 0) setenv("DCF_TEST_LINK_DELAY_US", us, 1);
        else unsetenv("DCF_TEST_LINK_DELAY_US");
        setenv("BENCH_ONLY", only, 1);
        dup2(fd[1], 1);
        close(fd[0]);
        close(fd[1]);
        char *args[] = { (char *)bench, (char *)node_bin, (char *)dir, (char *)secs, NULL };
        execv(bench, args);
        _exit(127);
    }
    close(fd[1]);
    FILE *out = fdopen(fd[0], "r");
    char line[1024];
    while (out && fgets(line, sizeof line, out)) {
        if (!strncmp(line, "libdcf-rs benchmark", 19)) continue;
        const char *p50 = strstr(line, "p50="), *p99 = strstr(line, "p99=");
        if (!strncmp(line, "latency", 7) && p50 && p99) {
            m->p50 = atof(p50 + 4);
            m->p99 = atof(p99 + 4);
        }
        if (!strncmp(line, "throughput", 10)) {
            m->mbps = number_before(line, "MB/s");
            m->cpu_gb = number_before(line, "s/GB");
        }
        printf("  rtt=%-3g ms  %s", rtt_ms, line);
    }
    if (out) fclose(out);
    int status = 0;
    waitpid(pid, &status, 0);
    fflush(stdout);
    if (!WIFEXITED(status) || WEXITSTATUS(status)) {
        fprintf(stderr, "bench (rtt %g ms, %s) failed; its data is kept in %s\n", rtt_ms, only, dir);
        return -1;
    }
    remove_tree(dir);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s <bench> <dcf_node> <dir> [seconds [report data dir]]\n", argv[0]);
        return 2;
    }
    const char *secs = argc > 4 ? argv[4] : "4";
    double seconds = atof(secs);
    const char *report = argc > 5 ? argv[5] : NULL;
    const char *rtt_list = getenv("BENCH_WAN_RTTS");
    if (!rtt_list) rtt_list = "0,1,10,50";
    double rtts[MAX_RTTS];
    int n = 0;
    for (const char *p = rtt_list; *p && n < MAX_RTTS; p = strchr(p, ',') ? strchr(p, ',') + 1 : "")
        rtts[n++] = atof(p);
    FILE *tsv = NULL;
    if (report) {
        char path[1200];
        snprintf(path, sizeof path, "%s/wan.tsv", report);
        tsv = fopen(path, "w");
        if (!tsv) fprintf(stderr, "cannot write %s: %s\n", path, strerror(errno));
    }
    printf("libdcf-rs benchmark, wide-area links: 3 nodes, every link's round trip RTT longer "
           "(a delay in the transport's sends), %.0f s per throughput case\n", seconds);
    measures_t m[MAX_RTTS];
    int failed = 0;
    for (int i = 0; i < n; i++) {
        char dir[1100], only[64];
        memset(&m[i], 0, sizeof m[i]);
        m[i].mbps = m[i].p50 = -1;
        /* about `seconds` of samples, 100 to 1000 */
        unsigned samples = rtts[i] > 0 ? (unsigned)(seconds * 1000 / rtts[i]) : 1000;
        samples = samples < 100 ? 100 : samples > 1000 ? 1000 : samples;
        snprintf(only, sizeof only, "latency:%u", samples);
        snprintf(dir, sizeof dir, "%s/rtt%g-latency", argv[3], rtts[i]);
        failed |= run_bench(argv[1], argv[2], secs, dir, rtts[i], only, &m[i]) != 0;
        snprintf(dir, sizeof dir, "%s/rtt%g-8192x16", argv[3], rtts[i]);
        failed |= run_bench(argv[1], argv[2], secs, dir, rtts[i], "8192x16", &m[i]) != 0;
    }
    double loopback = -1;
    for (int i = 0; i < n; i++)
        if (rtts[i] == 0) loopback = m[i].mbps;
    printf("wide-area summary (latency limit RTT + 0.5 ms; 8 KiB x 16 at 10 ms RTT should keep 70%% of loopback):\n");
    for (int i = 0; i < n; i++) {
        printf("wan         rtt=%3g ms  latency p50=%7.3f ms  p99=%7.3f ms  %-13s"
               "8192 B x 16 writers %7.1f MB/s  cpu %5.1f s/GB",
               rtts[i], m[i].p50, m[i].p99, rtts[i] == 0 ? "(loopback)" : m[i].p50 <= rtts[i] + 0.5 ? "(p50 within)" : "(p50 over)",
               m[i].mbps, m[i].cpu_gb);
        if (loopback > 0 && rtts[i] > 0) printf("  %3.0f%% of loopback", 100 * m[i].mbps / loopback);
        printf("\n");
        if (tsv) fprintf(tsv, "%g\t%.4f\t%.4f\t%.3f\t%.3f\n", rtts[i], m[i].p50, m[i].p99, m[i].mbps, m[i].cpu_gb);
    }
    if (tsv) fclose(tsv);
    return failed;
}
