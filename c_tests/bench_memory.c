/* make bench-memory: memory stays bounded while the log grows on disk.
 *   bench_memory <dcf_node binary> <work dir> [GiB to write] [entry bytes]
 * Three dcf_node processes on loopback. Node 3 is stopped, node 1 (the leader) writes
 * GiB of entries (default 4 GiB of 8 KiB) with no truncation; the resident memory of nodes
 * 1 and 2 is printed at the start, at every GiB and at its peak. Then node 3 starts again
 * and catches up from the leader's disk (rate in MB/s, leader's memory meanwhile). Last,
 * node 2 restarts on its multi-GiB log: seconds until dcf_start returns and until it
 * delivers its first entry.
 *   bench_memory <dcf_node binary> <work dir> flood [seconds] [entry bytes]
 * A writer with no window of its own floods the leader for the given seconds (default 20):
 * peak resident memory of every node, writes refused by backpressure, committed MB/s. */
#include "cluster.h"

#define GIB (1024.0 * 1024.0 * 1024.0)
#define MIB (1024.0 * 1024.0)

static char g_json[2048];
static char g_bin[1024];
static char g_root[1024];
static unsigned g_size = 8192;

static void dir_of(int i, char *out, size_t n) { snprintf(out, n, "%s/node%d", g_root, i); }

static int g_flood;

static pid_t start(int i, unsigned long long max_bytes)
{
    char dir[1100], id[8], size[16], max[32];
    dir_of(i, dir, sizeof dir);
    snprintf(id, sizeof id, "%d", i);
    snprintf(size, sizeof size, "%u", g_size);
    snprintf(max, sizeof max, "%llu", max_bytes);
    pid_t pid = fork();
    if (pid == 0) {
        if (max_bytes && g_flood)
            execl(g_bin, g_bin, id, dir, g_json, "--size", size, "--write", "--flood", (char *)NULL);
        else if (max_bytes)
            execl(g_bin, g_bin, id, dir, g_json, "--size", size, "--write", "--max-bytes", max, (char *)NULL);
        else
            execl(g_bin, g_bin, id, dir, g_json, "--size", size, (char *)NULL);
        _exit(127);
    }
    return pid;
}

static void stop(pid_t pid)
{
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
}

/* A field of /proc/<pid>/status in MiB ("VmRSS:", "VmHWM:"). */
static double proc_mib(pid_t pid, const char *field)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    double kb = 0;
    if (!f) return 0;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, field, strlen(field))) kb = atof(line + strlen(field));
    fclose(f);
    return kb / 1024.0;
}

/* A number of node i's stream document ("commit_index", "applied_index", ...). */
static unsigned long long doc_value(int i, const char *key)
{
    char path[1200], buf[4096], pat[64];
    dir_of(i, path, sizeof path);
    strcat(path, "/status.json");
    if (read_file(path, buf, sizeof buf) <= 0) return 0;
    snprintf(pat, sizeof pat, "\"%s\":", key);
    char *p = strstr(buf, pat);
    return p ? strtoull(p + strlen(pat), NULL, 10) : 0;
}

static int role_is_leader(int i)
{
    char path[1200], buf[32];
    dir_of(i, path, sizeof path);
    strcat(path, "/role");
    return read_file(path, buf, sizeof buf) > 0 && !strncmp(buf, "LEADER", 6);
}

static void make_json(void)
{
    int port = 24000 + (getpid() % 5000);
    char *p = g_json;
    p += sprintf(p, "[");
    for (int i = 1; i <= 3; i++)
        p += sprintf(p, "%s{\"stream_id\":1,\"node_id\":%d,\"ip\":\"127.0.0.1\",\"port\":%d,\"role\":\"%s\"}",
                     i > 1 ? "," : "", i, port + i, i == 1 ? "LEADER" : "FOLLOWER");
    sprintf(p, "]");
}

static int flood(double seconds)
{
    g_flood = 1;
    pid_t pid[4];
    pid[2] = start(2, 0);
    pid[3] = start(3, 0);
    pid[1] = start(1, 1);
    double t0 = now_sec();
    while (!role_is_leader(1) && now_sec() - t0 < 30) sleep_ms(20);
    double peak[4] = {0, 0, 0, 0}, s0 = now_sec();
    unsigned long long c0 = doc_value(1, "commit_index");
    while (now_sec() - s0 < seconds) {
        for (int i = 1; i <= 3; i++) {
            double r = proc_mib(pid[i], "VmRSS:");
            if (r > peak[i]) peak[i] = r;
        }
        sleep_ms(100);
    }
    unsigned long long c1 = doc_value(1, "commit_index");
    double secs = now_sec() - s0;
    char path[1200], buf[64];
    dir_of(1, path, sizeof path);
    strcat(path, "/refused");
    unsigned long long refused = read_file(path, buf, sizeof buf) > 0 ? strtoull(buf, NULL, 10) : 0;
    for (int i = 1; i <= 3; i++) {
        double h = proc_mib(pid[i], "VmHWM:");
        if (h > peak[i]) peak[i] = h;
    }
    printf("bench-memory flood: %u B entries, no writer window, %.0f s\n", g_size, secs);
    printf("  committed %.0f entries/s = %.0f MB/s; dcf_write refused %llu times (pool full)\n", (c1 - c0) / secs,
           (c1 - c0) * (double)g_size / secs / 1e6, refused);
    printf("  peak RSS: node1 %.0f MiB, node2 %.0f MiB, node3 %.0f MiB\n", peak[1], peak[2], peak[3]);
    for (int i = 1; i <= 3; i++) stop(pid[i]);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s <dcf_node> <work dir> [GiB] [entry bytes]\n", argv[0]);
        return 2;
    }
    snprintf(g_bin, sizeof g_bin, "%s", argv[1]);
    snprintf(g_root, sizeof g_root, "%s", argv[2]);
    mkdir(g_root, 0700);
    make_json();
    if (argc > 3 && !strcmp(argv[3], "flood")) {
        if (argc > 5) g_size = (unsigned)atoi(argv[5]);
        return flood(argc > 4 ? atof(argv[4]) : 20.0);
    }
    if (argc > 4) g_size = (unsigned)atoi(argv[4]);
    double gib = argc > 3 ? atof(argv[3]) : 4.0;
    unsigned long long total = (unsigned long long)(gib * GIB);
    unsigned long long want = total / g_size;
    pid_t pid[4];
    pid[2] = start(2, 0);
    pid[3] = start(3, 0);
    pid[1] = start(1, total);
    double t0 = now_sec();
    while (!role_is_leader(1) && now_sec() - t0 < 30) sleep_ms(20);
    if (!role_is_leader(1)) {
        printf("bench-memory: node 1 did not become leader\n");
        return 1;
    }
    stop(pid[3]);
    printf("bench-memory: %.1f GiB of %u B entries, node 3 stopped, no truncation\n", gib, g_size);
    printf("  %-10s %10s %12s %12s\n", "written", "seconds", "node1 RSS", "node2 RSS");
    double start_t = now_sec(), peak1 = 0, peak2 = 0;
    int next_gib = 0;
    unsigned long long commit = 0, last_seen = 0;
    double last_move = now_sec();
    for (;;) {
        commit = doc_value(1, "commit_index");
        double r1 = proc_mib(pid[1], "VmRSS:"), r2 = proc_mib(pid[2], "VmRSS:");
        if (r1 > peak1) peak1 = r1;
        if (r2 > peak2) peak2 = r2;
        double written = (double)commit * g_size;
        if (written >= next_gib * GIB) {
            printf("  %7.2f GiB %10.1f %9.0f MiB %9.0f MiB\n", written / GIB, now_sec() - start_t, r1, r2);
            next_gib++;
        }
        if (commit != last_seen) {
            last_seen = commit;
            last_move = now_sec();
        }
        if (commit >= want || now_sec() - last_move > 20) break;
        sleep_ms(100);
    }
    double secs = now_sec() - start_t;
    double hwm1 = proc_mib(pid[1], "VmHWM:"), hwm2 = proc_mib(pid[2], "VmHWM:");
    if (hwm1 > peak1) peak1 = hwm1;
    if (hwm2 > peak2) peak2 = hwm2;
    printf("  committed %llu entries (%.2f GiB) in %.1f s = %.0f MB/s\n", commit, commit * (double)g_size / GIB, secs,
           commit * (double)g_size / secs / 1e6);
    printf("  peak RSS: node1 %.0f MiB, node2 %.0f MiB (target < 400 MiB)\n", peak1, peak2);
    if (commit < want) printf("  WARNING: writing stalled before the target\n");

    /* Node 3 catches up from the leader's disk. */
    pid[3] = start(3, 0);
    double c0 = now_sec(), lead_peak = 0;
    unsigned long long got = 0;
    while (now_sec() - c0 < 600) {
        got = doc_value(3, "applied_index");
        double r1 = proc_mib(pid[1], "VmRSS:");
        if (r1 > lead_peak) lead_peak = r1;
        if (got >= commit) break;
        sleep_ms(100);
    }
    double cs = now_sec() - c0;
    printf("  node 3 caught up %llu entries in %.1f s = %.0f MB/s; leader RSS during catch-up up to %.0f MiB\n", got,
           cs, got * (double)g_size / cs / 1e6, lead_peak);

    /* Node 2 restarts on its long log and delivers it again from the start. */
    stop(pid[2]);
    char path[1200];
    dir_of(2, path, sizeof path);
    strcat(path, "/applied.log");
    unlink(path);
    char started[1200], buf[64];
    dir_of(2, started, sizeof started);
    strcat(started, "/started");
    unlink(started);
    double r0 = now_sec();
    pid[2] = start(2, 0);
    double start_took = -1, first_apply = -1;
    while (now_sec() - r0 < 120 && (start_took < 0 || first_apply < 0)) {
        if (start_took < 0 && read_file(started, buf, sizeof buf) > 0) start_took = atof(buf);
        struct stat st;
        if (first_apply < 0 && stat(path, &st) == 0 && st.st_size > 0) first_apply = now_sec() - r0;
        sleep_ms(5);
    }
    printf("  node 2 restart on a %.1f GiB log: dcf_start took %.3f s, first entry delivered %.3f s after launch\n",
           commit * (double)g_size / GIB, start_took, first_apply);
    for (int i = 1; i <= 3; i++) stop(pid[i]);
    return 0;
}
