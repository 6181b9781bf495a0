/* make bench: node processes on loopback, measured through the public header only.
 *   bench <dcf_node binary> <work dir> [seconds per case [report data dir]]
 * This process is node 1 (configured LEADER); the other nodes are dcf_node processes.
 * With three nodes: the single-writer commit latency p50/p99 (measured first, on a quiet
 * cluster; the writer sleeps on a semaphore that after_writer posts, as a database backend
 * sleeps on its latch), committed entries/s and MB/s for 64 B, 1 KiB and 8 KiB entries with
 * 1, 4 and 16 writer threads (each with up to 64 uncommitted writes). The cluster has STREAMS
 * streams, node 1 leading each; the cases above write to stream 1 only, then 16 writers
 * spread over all of them measure the aggregate and each stream's share (whether streams
 * slow each other down). Then five nodes (majority three) at 64 B and 8 KiB with 16 writers,
 * with the leader's CPU per GB and the bytes it sends per byte written. Then the single
 * writer's latency again with the data on a RAM disk; after the first latency case, the
 * disk's own floor (bench_floor.h). Then, at election
 * timeouts 1 s and 3 s, the time from a planned stop (dcf_stop) and from SIGKILL of a leader
 * to the first commit on the new leader (median of 3), and the elections in an idle minute
 * with every node alive. Every case prints the CPU seconds (user + system) of all node
 * processes per million committed entries and per committed GB.
 * With a fourth argument, also writes the measures behind them into that directory for
 * the HTML report (c_tests/bench_report.py): throughput.tsv, latency.tsv, failover.tsv,
 * streams.tsv, five.tsv, floor.tsv. */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <sys/resource.h>
#include <stdatomic.h>

#include "bench_floor.h"
#include "cluster.h"
#include "dcf_interface.h"

#define MAX_THREADS 16
#define WINDOW 64
#define STREAMS 4

static atomic_ullong g_acked[MAX_THREADS];
static atomic_ullong g_sent[MAX_THREADS];
static atomic_ullong g_last_acked_index;
static unsigned g_size;
/* Writer t writes to stream 1 + t % g_streams. */
static unsigned g_streams = 1;
static atomic_int g_run;
/* A writer with a full window sleeps on its own lock and condition until half its window
 * is acknowledged; after_writer wakes only the writer whose write it reports. (Waking all of
 * them for every entry, or one for every entry under one shared lock, cost the harness more
 * CPU than the nodes spent on those entries.) */
static pthread_mutex_t g_lock[MAX_THREADS];
static pthread_cond_t g_acked_cond[MAX_THREADS];
static atomic_int g_waiting[MAX_THREADS];
/* Directory for the report's data files, or NULL. */
static const char *g_out;

/* Opens g_out/name for appending, or returns NULL when no report is wanted. */
static FILE *out_file(const char *name)
{
    char path[1200];
    if (!g_out) return NULL;
    snprintf(path, sizeof path, "%s/%s", g_out, name);
    FILE *f = fopen(path, "a");
    if (!f) fprintf(stderr, "cannot write %s\n", path);
    return f;
}

/* The latency client sleeps on g_commit_sem until after_writer reports g_wait_index (as a
 * database backend sleeps on its latch). Whoever clears g_wait_index first, the client
 * finding its entry already reported or after_writer, decides whether there is a post. */
static sem_t g_commit_sem;
static atomic_ullong g_wait_index;

static int on_after_writer(unsigned int s, unsigned long long index, const char *b, unsigned int n,
                           unsigned long long key, int e)
{
    (void)s; (void)b; (void)n; (void)e;
    unsigned t = (key >> 48) % MAX_THREADS;
    unsigned long long acked = ++g_acked[t];
    if (s == 1) {
        g_last_acked_index = index;
        unsigned long long want = index;
        if (g_wait_index == index && atomic_compare_exchange_strong(&g_wait_index, &want, 0))
            sem_post(&g_commit_sem);
    }
    if (g_waiting[t] && g_sent[t] - acked <= WINDOW / 2) {
        pthread_mutex_lock(&g_lock[t]);
        pthread_cond_signal(&g_acked_cond[t]);
        pthread_mutex_unlock(&g_lock[t]);
    }
    return 0;
}

static int on_notify(unsigned int s, unsigned long long i, const char *b, unsigned int n, unsigned long long k)
{
    (void)s; (void)i; (void)b; (void)n; (void)k;
    return 0;
}

/* With g_lock[t] held: sleeps until after_writer signals, at most 10 ms. */
static void wait_for_ack(unsigned t)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 10 * 1000 * 1000;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&g_acked_cond[t], &g_lock[t], &ts);
}

static void *writer(void *arg)
{
    unsigned t = (unsigned)(uintptr_t)arg;
    char *buf = malloc(g_size);
    unsigned long long seq = 0, index;
    memset(buf, 'x', g_size);
    while (g_run) {
        if (g_sent[t] - g_acked[t] >= WINDOW) {
            pthread_mutex_lock(&g_lock[t]);
            g_waiting[t] = 1;
            while (g_sent[t] - g_acked[t] > WINDOW / 2 && g_run) wait_for_ack(t);
            g_waiting[t] = 0;
            pthread_mutex_unlock(&g_lock[t]);
            continue;
        }
        unsigned long long key = ((unsigned long long)t << 48) | ++seq;
        /* counted before the write: its after_writer may run before dcf_write returns */
        g_sent[t]++;
        if (dcf_write(1 + t % g_streams, buf, g_size, key, &index) != 0) {
            g_sent[t]--;
            sleep_ms(1);
        }
    }
    /* let what is in flight commit before the next case */
    double end = now_sec() + 5;
    while (g_acked[t] < g_sent[t] && now_sec() < end) sleep_ms(1);
    free(buf);
    return NULL;
}

static cluster_t g_cluster;

/* CPU seconds (user + system) used so far by this process (node 1, the leader, with its
 * writer threads). */
static double leader_cpu(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* CPU seconds used so far by every node: this process and the dcf_node processes. */
static double cluster_cpu(void)
{
    double s = leader_cpu();
    long tick = sysconf(_SC_CLK_TCK);
    for (int i = 2; i <= g_cluster.n; i++) {
        char path[64], buf[1024];
        snprintf(path, sizeof path, "/proc/%d/stat", (int)g_cluster.pid[i]);
        if (read_file(path, buf, sizeof buf) <= 0) continue;
        /* fields 14 and 15 (utime, stime) follow the ")" that ends the command name */
        char *p = strrchr(buf, ')');
        unsigned long long ut = 0, st = 0;
        if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) == 2)
            s += (double)(ut + st) / (double)tick;
    }
    return s;
}

/* One value of dcf_query_statistics_info (over its last 3-second window), 0 if none. */
static double statistic(const char *json, const char *name)
{
    char key[64];
    snprintf(key, sizeof key, "\"%s\":{", name);
    const char *p = strstr(json, key);
    if (!p) return 0;
    p = strstr(p, "value\":");
    return p ? strtod(p + 7, NULL) : 0;
}

/* Bytes this node handed the network per byte written, over the statistics' last window
 * (SendPackSize / DCFWriteSize): what the leader sends for each byte it replicates. */
static double sent_per_written(void)
{
    static char json[8192];
    if (dcf_query_statistics_info(json, sizeof json) <= 0) return 0;
    double written = statistic(json, "DCFWriteSize");
    return written > 0 ? statistic(json, "SendPackSize") / written : 0;
}

/* The committed MB/s of the last throughput case. */
static double g_last_mbps;
/* The CPU seconds of all nodes per committed GB in the last case. */
static double g_last_cpu_gb;

static void throughput(unsigned size, unsigned threads, double seconds)
{
    pthread_t th[MAX_THREADS];
    g_size = size;
    for (unsigned t = 0; t < MAX_THREADS; t++) g_acked[t] = g_sent[t] = 0;
    g_run = 1;
    for (unsigned t = 0; t < threads; t++) pthread_create(&th[t], NULL, writer, (void *)(uintptr_t)t);
    sleep_ms(300); /* warm-up */
    /* done[t]: writer t's commits during the measured time */
    unsigned long long a0 = 0, a1 = 0, done[MAX_THREADS];
    for (unsigned t = 0; t < threads; t++) a0 += done[t] = g_acked[t];
    /* Starts the statistics' window here if none is open (it closes once 3 s old, at the
     * next query): the sending figure then covers this case. */
    (void)sent_per_written();
    double t0 = now_sec(), cpu0 = cluster_cpu(), lcpu0 = leader_cpu();
    sleep_ms((unsigned)(seconds * 1000));
    for (unsigned t = 0; t < threads; t++) {
        done[t] = g_acked[t] - done[t];
        a1 += g_acked[t];
    }
    double dt = now_sec() - t0, cpu = cluster_cpu() - cpu0, lcpu = leader_cpu() - lcpu0;
    double sent = sent_per_written();
    g_run = 0;
    for (unsigned t = 0; t < threads; t++) pthread_join(th[t], NULL);
    double rate = (double)(a1 - a0) / dt;
    double n = (double)(a1 - a0);
    g_last_mbps = rate * size / 1e6;
    g_last_cpu_gb = n > 0 ? cpu / (n * size) * 1e9 : 0;
    printf("%s  size=%5u B  writers=%2u  committed=%10.0f entries/s  %8.1f MB/s  (%llu entries in %.1f s)"
           "  cpu %.1f s/M entries %.1f s/GB",
           g_streams > 1 ? "streams=4  " : g_cluster.n == 5 ? "five nodes" : "throughput", size, threads, rate,
           rate * size / 1e6, a1 - a0, dt, n > 0 ? cpu / n * 1e6 : 0, n > 0 ? cpu / (n * size) * 1e9 : 0);
    if (g_cluster.n == 5)
        printf("  leader cpu %.1f s/GB, sends %.2f B per B written", n > 0 ? lcpu / (n * size) * 1e9 : 0, sent);
    printf("\n");
    double share[MAX_THREADS];
    if (g_streams > 1) {
        printf("            per stream MB/s:");
        for (unsigned st = 0; st < g_streams; st++) {
            unsigned long long d = 0;
            for (unsigned t = st; t < threads; t += g_streams) d += done[t];
            share[st] = (double)d / dt * size / 1e6;
            printf(" %.1f", share[st]);
        }
        printf("\n");
    }
    fflush(stdout);
    FILE *f = out_file(g_streams > 1 ? "streams.tsv" : g_cluster.n == 5 ? "five.tsv" : "throughput.tsv");
    if (f && g_cluster.n == 5) {
        /* five.tsv: the leader's CPU per GB and what it sends per byte written */
        fprintf(f, "%u\t%u\t%.0f\t%.3f\t%.3f\t%.3f\t%.3f\n", size, threads, rate, rate * size / 1e6,
                n > 0 ? cpu / (n * size) * 1e9 : 0, n > 0 ? lcpu / (n * size) * 1e9 : 0, sent);
        fclose(f);
    } else if (f) {
        /* streams.tsv adds each stream's MB/s */
        fprintf(f, "%u\t%u\t%.0f\t%.3f", size, threads, rate, rate * size / 1e6);
        for (unsigned st = 0; g_streams > 1 && st < g_streams; st++) fprintf(f, "\t%.3f", share[st]);
        fprintf(f, "\n");
        fclose(f);
    }
}

/* Single-writer commit latency: write one 64-byte entry, sleep on a semaphore until
 * after_writer posts it, repeat. `ram`: the nodes' data is on a RAM disk (bench_floor.h). */
static void latency(unsigned samples, int ram)
{
    char buf[64];
    double *lat = malloc(samples * sizeof *lat);
    unsigned long long index;
    memset(buf, 'y', sizeof buf);
    unsigned n = 0, refused = 0;
    for (unsigned i = 0; i < samples; i++) {
        double t0 = now_sec();
        g_sent[1]++;
        if (dcf_write(1, buf, sizeof buf, ((unsigned long long)1 << 48) | i, &index) != 0) {
            /* not the leader for a moment (an election on a loaded machine): try again */
            g_sent[1]--;
            if (++refused > 5000) break;
            sleep_ms(1);
            i--;
            continue;
        }
        g_wait_index = index;
        if (g_last_acked_index < index || atomic_exchange(&g_wait_index, 0) != index) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += 5;
            int r;
            while ((r = sem_timedwait(&g_commit_sem, &ts)) != 0 && errno == EINTR) {
            }
            /* not committed within 5 s: take the post back if after_writer is making it */
            if (r != 0 && atomic_exchange(&g_wait_index, 0) != index) sem_wait(&g_commit_sem);
        }
        lat[n++] = (now_sec() - t0) * 1e3;
    }
    FILE *f = ram ? NULL : out_file("latency.tsv");
    if (f) {
        for (unsigned i = 0; i < n; i++) fprintf(f, "%.4f\n", lat[i]);
        fclose(f);
    }
    qsort(lat, n, sizeof *lat, cmp_double);
    if (!n) fprintf(stderr, "latency: every write was refused: %s\n", dcf_get_error(dcf_get_errorno()));
    if (n && ram) {
        printf("latency     size=   64 B  writers= 1  commit p50=%.3f ms  p99=%.3f ms  with the data on a RAM disk (%u samples: "
               "no disk, the rest of the path)\n",
               lat[n / 2], lat[(n * 99) / 100], n);
        if ((f = out_file("floor.tsv"))) {
            fprintf(f, "ram\t%.4f\t%.4f\n", lat[n / 2], lat[(n * 99) / 100]);
            fclose(f);
        }
    } else if (n) {
        printf("latency     size=   64 B  writers= 1  commit p50=%.3f ms  p99=%.3f ms  (%u samples; the writer sleeps on a semaphore until after_writer posts it)\n",
               lat[n / 2], lat[(n * 99) / 100], n);
    }
    free(lat);
}

/* Seconds from an event on the leader (SIGKILL, or SIGTERM: the node calls dcf_stop, a
 * planned restart) to the first commit on the new leader, at election timeout `timeout` s;
 * -1 if none within 30 s. With `f`, writes the timeline for the report. */
static double failover_case(const char *node_bin, const char *root, const char *timeout, int sig, FILE *f)
{
    cluster_t c;
    char dir[1000];
    static int run;
    snprintf(dir, sizeof dir, "%s/failover%d", root, ++run);
    cluster_init(&c, 3, node_bin, dir, 24000 + ((getpid() + 7 * run) % 4000));
    c.extra_arg = "--timeout";
    c.extra_arg2 = timeout;
    for (int i = 1; i <= 3; i++) {
        c.write[i] = 1;
        cluster_start_node(&c, i);
    }
    int leader = cluster_wait_leader(&c, 20 + 8 * atof(timeout), 0);
    if (!leader) {
        cluster_kill_all(&c);
        return -1;
    }
    sleep_ms(1000);
    unsigned long long before[MAX_NODES + 1];
    for (int i = 1; i <= 3; i++) before[i] = delivered_last(&c, i);
    const char *what = sig == SIGKILL ? "SIGKILL" : "dcf_stop";
    double t0 = now_sec();
    /* Not cluster_signal: it would wait for the process to exit, and a stopping leader's
     * successor may commit before dcf_stop has returned. */
    pid_t old = c.pid[leader];
    kill(old, sig);
    c.pid[leader] = 0; /* no longer a candidate for cluster_leader */
    if (f) fprintf(f, "event\t0\t%d\t%s of leader %d\n", leader, what, leader);
    double t1 = 0, t_leader = 0, t_sample = 0;
    /* Polls until the first commit on a new leader, and samples the survivors' applied
     * index for one second more so that the timeline shows commits resuming. */
    while (now_sec() - t0 < 30 && (!t1 || (f && now_sec() - t1 < 1))) {
        double t = now_sec();
        if (f && t - t_sample >= 0.05) {
            t_sample = t;
            for (int i = 1; i <= 3; i++)
                if (i != leader) fprintf(f, "sample\t%.4f\t%d\t%llu\n", t - t0, i, delivered_last(&c, i));
        }
        int l = cluster_leader(&c);
        if (l && l != leader && !t_leader) {
            t_leader = now_sec();
            if (f) fprintf(f, "event\t%.4f\t%d\tnode %d is leader\n", t_leader - t0, l, l);
        }
        if (l && l != leader && !t1) {
            char path[1200];
            node_dir(&c, l, path, sizeof path);
            strcat(path, "/acked.log");
            struct stat st;
            if (stat(path, &st) == 0 && st.st_size > 0 && delivered_last(&c, l) > before[l]) {
                t1 = now_sec();
                if (f) fprintf(f, "event\t%.4f\t%d\tfirst commit on node %d\n", t1 - t0, l, l);
            }
        }
        sleep_ms(2);
    }
    waitpid(old, NULL, 0);
    for (int i = 1; i <= 3; i++) cluster_signal(&c, i, SIGTERM);
    return t1 ? t1 - t0 : -1.0;
}

/* The highest term in the nodes' status documents (0 if none readable). */
static unsigned long long max_term(const cluster_t *c)
{
    unsigned long long best = 0;
    for (int i = 1; i <= c->n; i++) {
        char dir[1100], path[1200], buf[4096];
        node_dir(c, i, dir, sizeof dir);
        snprintf(path, sizeof path, "%s/status.json", dir);
        if (read_file(path, buf, sizeof buf) <= 0) continue;
        const char *t = strstr(buf, "\"term\":");
        if (t) {
            unsigned long long v = strtoull(t + 7, NULL, 10);
            if (v > best) best = v;
        }
    }
    return best;
}

/* Elections (term increments) in `seconds` of an idle cluster with every node alive. */
static long idle_elections(const char *node_bin, const char *root, const char *timeout, double seconds)
{
    cluster_t c;
    char dir[1000];
    snprintf(dir, sizeof dir, "%s/idle%s", root, timeout);
    cluster_init(&c, 3, node_bin, dir, 20000 + (getpid() % 900));
    c.extra_arg = "--timeout";
    c.extra_arg2 = timeout;
    for (int i = 1; i <= 3; i++) cluster_start_node(&c, i);
    long n = -1;
    if (cluster_wait_leader(&c, 20 + 8 * atof(timeout), 0)) {
        sleep_ms(500);
        unsigned long long t0 = max_term(&c);
        sleep_ms((unsigned)(seconds * 1000));
        unsigned long long t1 = max_term(&c);
        if (t0 && t1) n = (long)(t1 - t0);
    }
    for (int i = 1; i <= 3; i++) cluster_signal(&c, i, SIGTERM);
    return n;
}

/* Planned stop and SIGKILL of the leader, `runs` times each at election timeouts 1 s and
 * 3 s (median and every run), then the elections of an idle minute unless idle_s is 0. */
static void failover(const char *node_bin, const char *root, int runs, double idle_s)
{
    const char *timeouts[] = { "1", "3" };
    int sigs[] = { SIGTERM, SIGKILL };
    FILE *f = out_file("failover.tsv");
    for (unsigned t = 0; t < 2; t++)
        for (unsigned k = 0; k < 2; k++) {
            double v[16];
            int n = runs > 16 ? 16 : runs;
            char all[256] = "";
            for (int r = 0; r < n; r++) {
                /* the report's timeline: the first SIGKILL run at 1 s */
                v[r] = failover_case(node_bin, root, timeouts[t], sigs[k],
                                     t == 0 && sigs[k] == SIGKILL && r == 0 ? f : NULL);
                snprintf(all + strlen(all), sizeof all - strlen(all), "%s%.3f", r ? " " : "", v[r]);
            }
            qsort(v, (size_t)n, sizeof *v, cmp_double);
            printf("failover    election timeout %s s: %-8s of the leader to first commit on the new leader: median %.3f s  (runs: %s)\n",
                   timeouts[t], sigs[k] == SIGKILL ? "SIGKILL" : "dcf_stop", v[n / 2], all);
            fflush(stdout);
        }
    if (f) fclose(f);
    if (idle_s > 0)
        for (unsigned t = 0; t < 2; t++)
            printf("failover    election timeout %s s: elections in %.0f idle seconds, every node alive: %ld\n",
                   timeouts[t], idle_s, idle_elections(node_bin, root, timeouts[t], idle_s));
}

/* Starts `nodes` nodes in `streams` streams under `root`: nodes 2.. as dcf_node processes,
 * node 1 in this process, which is made the writable leader of every stream. 0 on success. */
static int lead_cluster(int nodes, int streams, const char *node_bin, const char *root)
{
    char dir[1100], data[1200], logs[1200];
    int base_port = 21000 + ((getpid() + 10 * nodes) % 3000);
    cluster_init(&g_cluster, nodes, node_bin, root, base_port);
    /* A new cluster's log starts again from index 1: what an earlier one acknowledged must
     * not count as this one's (the latency client compares indexes). */
    g_last_acked_index = 0;
    /* the same nodes in each stream */
    char *p = g_cluster.json;
    p += sprintf(p, "[");
    for (int st = 1; st <= streams; st++)
        for (int i = 1; i <= nodes; i++)
            p += sprintf(p, "%s{\"stream_id\":%d,\"node_id\":%d,\"ip\":\"127.0.0.1\",\"port\":%d,\"role\":\"%s\"}",
                         st + i > 2 ? "," : "", st, i, base_port + i, i == 1 ? "LEADER" : "FOLLOWER");
    sprintf(p, "]");
    /* the followers' logs of delivered entries are not read here */
    g_cluster.extra_arg = "--buffered-log";
    for (int i = 2; i <= nodes; i++) cluster_start_node(&g_cluster, i);
    node_dir(&g_cluster, 1, dir, sizeof dir);
    mkdir(dir, 0700);
    snprintf(data, sizeof data, "%s/data", dir);
    snprintf(logs, sizeof logs, "%s/log", dir);
    if (dcf_set_param("DATA_PATH", data) || dcf_set_param("LOG_PATH", logs) ||
        dcf_set_param("ELECTION_TIMEOUT", "1") || dcf_start(1, g_cluster.json)) {
        fprintf(stderr, "start failed: %s\n", dcf_get_error(dcf_get_errorno()));
        return 1;
    }
    unsigned int writable = 0;
    double end = now_sec() + 20;
    for (int st = 1; st <= streams; st++) {
        writable = 0;
        while (!writable && now_sec() < end) {
            dcf_check_if_all_logs_applied((unsigned)st, &writable);
            if (!writable) {
                dcf_promote_leader((unsigned)st, 1, 0);
                sleep_ms(200);
            }
        }
    }
    if (!writable) fprintf(stderr, "this node did not become a writable leader\n");
    return !writable;
}

static void stop_cluster(void)
{
    dcf_stop();
    for (int i = 2; i <= g_cluster.n; i++) cluster_signal(&g_cluster, i, SIGTERM);
}

/* Five nodes (majority three) at 64 B and 8 KiB, 16 writers, and the 8 KiB rate against
 * the three-node one measured before (`three_mbps`, `three_cpu_gb`). Where all nodes share
 * the machine's cores and keep them busy, the rate ratio is about the inverse of the ratio
 * of the CPU per GB of all nodes: the work of two more followers has to fit in the same CPU. */
static int five_nodes(const char *node_bin, const char *root, double seconds, double three_mbps,
                      double three_cpu_gb)
{
    char dir[1100];
    snprintf(dir, sizeof dir, "%s/five", root);
    if (lead_cluster(5, 1, node_bin, dir)) return 1;
    throughput(64, 16, seconds);
    throughput(8192, 16, seconds);
    if (three_mbps > 0)
        printf("five nodes  size= 8192 B  writers=16  %.1f MB/s is %.0f%% of three nodes' %.1f MB/s; all nodes' CPU "
               "per GB %.1f s against %.1f s (%.0f%%)\n",
               g_last_mbps, 100 * g_last_mbps / three_mbps, three_mbps, g_last_cpu_gb, three_cpu_gb,
               g_last_cpu_gb > 0 ? 100 * three_cpu_gb / g_last_cpu_gb : 0);
    stop_cluster();
    return 0;
}

/* The disk's floor, on the disk the nodes' data is on (`root`), with the cluster idle. */
static void floor_of_disk(const char *root)
{
    FILE *f = out_file("floor.tsv");
    disk_floor(root, f);
    if (f) fclose(f);
}

/* The single-writer latency again with three nodes' data on a RAM disk, if there is one. */
static int ram_latency(const char *node_bin)
{
    char dir[256];
    if (!ram_dir(dir, sizeof dir)) {
        printf("latency     on a RAM disk: skipped, no /dev/shm with 1 GiB free\n");
        return 0;
    }
    int failed = lead_cluster(3, 1, node_bin, dir);
    if (!failed) latency(2000, 1);
    stop_cluster();
    remove_tree(dir);
    return failed;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s <dcf_node> <dir> [seconds [report data dir]]\n", argv[0]);
        return 2;
    }
    double seconds = argc > 3 ? atof(argv[3]) : 3;
    g_out = argc > 4 ? argv[4] : NULL;
    sem_init(&g_commit_sem, 0, 0);
    for (unsigned t = 0; t < MAX_THREADS; t++) {
        pthread_mutex_init(&g_lock[t], NULL);
        pthread_cond_init(&g_acked_cond[t], NULL);
    }
    dcf_register_after_writer(on_after_writer);
    dcf_register_consensus_notify(on_notify);
    if (lead_cluster(3, STREAMS, argv[1], argv[2])) return 1;
    printf("libdcf-rs benchmark: 3 nodes on loopback, %.0f s per case\n", seconds);
    unsigned sizes[] = { 64, 1024, 8192 };
    unsigned writers[] = { 1, 4, 16 };
    /* BENCH_ONLY=<size>x<writers> runs just that throughput case (s<size>x<writers> over all
     * streams), BENCH_ONLY=latency[:samples] just the latency case (for a profiler to watch),
     * BENCH_ONLY=five three nodes at 8 KiB x 16 and then the five-node cases. */
    const char *only = getenv("BENCH_ONLY");
    unsigned only_size = 0, only_writers = 0;
    /* BENCH_ONLY=failover[:runs[:idle seconds]]: just the failover cases. */
    if (only && !strncmp(only, "failover", 8)) {
        int runs = 3;
        double idle = 60;
        sscanf(only, "failover:%d:%lf", &runs, &idle);
        stop_cluster();
        failover(argv[1], argv[2], runs, idle);
        return 0;
    }
    if (only && !strncmp(only, "latency", 7)) {
        unsigned samples = 2000;
        sscanf(only, "latency:%u", &samples);
        latency(samples, 0);
        stop_cluster();
        return 0;
    }
    /* BENCH_ONLY=floor: the disk's floor and the latency on a RAM disk (bench_floor.h). */
    if (only && !strcmp(only, "floor")) {
        floor_of_disk(argv[2]);
        stop_cluster();
        return ram_latency(argv[1]);
    }
    if (only && !strcmp(only, "five")) {
        throughput(8192, 16, seconds);
        stop_cluster();
        return five_nodes(argv[1], argv[2], seconds, g_last_mbps, g_last_cpu_gb);
    }
    if (only && only[0] == 's') {
        g_streams = STREAMS;
        only++;
    }
    if (only && sscanf(only, "%ux%u", &only_size, &only_writers) == 2) {
        throughput(only_size, only_writers > MAX_THREADS ? MAX_THREADS : only_writers, seconds);
        stop_cluster();
        return 0;
    }
    /* Latency first, on a quiet cluster: after the throughput cases have written gigabytes,
     * the disk (on a virtual machine, the host's) is still busy for seconds, and a single
     * writer's fdatasync waits behind that. */
    latency(2000, 0);
    floor_of_disk(argv[2]);
    double three_mbps = 0, three_cpu_gb = 0;
    for (unsigned s = 0; s < 3; s++)
        for (unsigned w = 0; w < 3; w++) {
            throughput(sizes[s], writers[w], seconds);
            if (sizes[s] == 8192 && writers[w] == 16) three_mbps = g_last_mbps, three_cpu_gb = g_last_cpu_gb;
        }
    g_streams = STREAMS;
    throughput(8192, 16, seconds);
    throughput(64, 16, seconds);
    g_streams = 1;
    stop_cluster();
    if (five_nodes(argv[1], argv[2], seconds, three_mbps, three_cpu_gb)) return 1;
    if (ram_latency(argv[1])) return 1;
    failover(argv[1], argv[2], 3, 60);
    return 0;
}
