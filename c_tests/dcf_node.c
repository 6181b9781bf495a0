/* One DCF node in its own process, driven through the public C interface only.
 *
 *   dcf_node <node_id> <dir> <cluster_json> [--write] [--size N] [--timeout S] [--max-bytes N]
 *                [--flood] [--trace] [--window N] [--buffered-log]
 *
 * In <dir>: data/ (DATA_PATH), log/ (LOG_PATH), applied.log ("index key ok\n" for every
 * entry delivered by after_writer or consensus_notify), acked.log ("index key\n" for every
 * after_writer), role (LEADER or FOLLOWER), status.json (the stream document, refreshed).
 * With --write the node writes checkable entries whenever it is a writable leader (with
 * --max-bytes, until it has written that many payload bytes). started holds the seconds
 * dcf_start took. --flood writes without a window of its own and counts refused writes
 * in refused. --window: writes awaiting after_writer at most (64). With --trace,
 * commits.log gets "wall_ms index latency_us\n" for every after_writer (the latency from
 * dcf_write). Every clean stop appends how long dcf_stop took to stop_ms.
 * A restart resumes delivery after the last index in applied.log (dcf_set_applied_index).
 * SIGUSR1 stops writing; SIGTERM stops the node cleanly (dcf_stop) and exits 0.
 * --buffered-log writes applied.log and acked.log in large blocks instead of a write() per
 * entry (a kill loses their tail): the benchmark's followers use it, so that what the
 * harness logs does not count as the library's CPU per entry.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dcf_interface.h"
#include "node_common.h"

static char g_dir[1024];
static FILE *g_applied;
static FILE *g_acked;
static unsigned g_node;
static unsigned g_size = 64;
static atomic_int g_writing;
static atomic_int g_stop;
static atomic_ullong g_outstanding;
static unsigned g_window = 64;
static FILE *g_commits;
/* When each outstanding write was made, by the low byte of its sequence number (the window
 * is kept below 256). */
static double g_sent_at[256];
static unsigned long long g_max_bytes = ~0ULL;
/* --flood: no window of its own; counts the writes the library refuses (backpressure). */
static int g_flood;
static atomic_ullong g_refused;
static pthread_mutex_t g_log_lock = PTHREAD_MUTEX_INITIALIZER;
static int g_buffered_log;

static void record(unsigned long long index, const char *buf, unsigned size, unsigned long long key, int acked)
{
    int ok = payload_ok(buf, size, key) && size == g_size;
    pthread_mutex_lock(&g_log_lock);
    fprintf(g_applied, "%llu %llu %d\n", index, key, ok);
    if (!g_buffered_log) fflush(g_applied);
    if (acked) {
        fprintf(g_acked, "%llu %llu\n", index, key);
        if (!g_buffered_log) fflush(g_acked);
    }
    pthread_mutex_unlock(&g_log_lock);
}

static int on_after_writer(unsigned int stream, unsigned long long index, const char *buf, unsigned int size,
                           unsigned long long key, int error_no)
{
    (void)stream;
    (void)error_no;
    record(index, buf, size, key, 1);
    if (g_commits) {
        double now = wall_sec();
        pthread_mutex_lock(&g_log_lock);
        fprintf(g_commits, "%.3f %llu %.0f\n", now * 1e3, index, (now - g_sent_at[key & 255]) * 1e6);
        fflush(g_commits);
        pthread_mutex_unlock(&g_log_lock);
    }
    if (g_outstanding > 0) g_outstanding--;
    return 0;
}

static int on_consensus_notify(unsigned int stream, unsigned long long index, const char *buf, unsigned int size,
                               unsigned long long key)
{
    (void)stream;
    record(index, buf, size, key, 0);
    return 0;
}

static int on_status(unsigned int stream, dcf_role_t role)
{
    (void)stream;
    char path[1100];
    snprintf(path, sizeof path, "%s/role", g_dir);
    /* writes of an earlier leadership may never be acknowledged: start a fresh window */
    g_outstanding = 0;
    write_file_atomic(path, role == DCF_ROLE_LEADER ? "LEADER\n" : "FOLLOWER\n");
    return 0;
}

static void on_signal(int sig)
{
    if (sig == SIGUSR1) g_writing = 0;
    else g_stop = 1;
}

/* The last index in applied.log, so a restart resumes after it. */
static unsigned long long last_applied(const char *path)
{
    FILE *f = fopen(path, "r");
    unsigned long long idx, key, last = 0;
    int ok;
    if (!f) return 0;
    while (fscanf(f, "%llu %llu %d", &idx, &key, &ok) == 3) last = idx;
    fclose(f);
    return last;
}

static void *writer(void *arg)
{
    (void)arg;
    char *buf = malloc(g_size ? g_size : 1);
    unsigned long long seq = 0, index, written = 0;
    unsigned long long base = ((unsigned long long)g_node << 56) | ((unsigned long long)(getpid() & 0xffffff) << 32);
    while (!g_stop) {
        unsigned int writable = 0;
        if (!g_writing || dcf_check_if_all_logs_applied(1, &writable) != 0 || !writable ||
            (!g_flood && g_outstanding >= g_window)) {
            sleep_ms(1);
            continue;
        }
        if (written >= g_max_bytes) {
            sleep_ms(10);
            continue;
        }
        unsigned long long key = base | ++seq;
        fill_payload(buf, g_size, key);
        g_sent_at[key & 255] = wall_sec();
        /* counted before the write: its after_writer may run before dcf_write returns */
        g_outstanding++;
        if (dcf_write(1, buf, g_size, key, &index) == 0) {
            written += g_size;
            continue;
        }
        if (g_outstanding > 0) g_outstanding--;
        if (g_flood) {
            g_refused++;
            sched_yield();
        } else {
            sleep_ms(2);
        }
    }
    free(buf);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s <node_id> <dir> <cluster_json> [--write] [--size N] [--timeout S] [--max-bytes N]\n"
                "       [--flood] [--trace] [--window N] [--buffered-log]\n",
                argv[0]);
        return 2;
    }
    g_node = (unsigned)atoi(argv[1]);
    snprintf(g_dir, sizeof g_dir, "%s", argv[2]);
    const char *cluster = argv[3];
    const char *timeout = "1";
    int trace = 0;
    for (int i = 4; i < argc; i++) {
        if (!strcmp(argv[i], "--write")) g_writing = 1;
        else if (!strcmp(argv[i], "--size") && i + 1 < argc) g_size = (unsigned)atoi(argv[++i]);
        else if (!strcmp(argv[i], "--timeout") && i + 1 < argc) timeout = argv[++i];
        else if (!strcmp(argv[i], "--flood")) g_flood = 1;
        else if (!strcmp(argv[i], "--max-bytes") && i + 1 < argc) g_max_bytes = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--trace")) trace = 1;
        else if (!strcmp(argv[i], "--window") && i + 1 < argc) g_window = (unsigned)atoi(argv[++i]);
        else if (!strcmp(argv[i], "--buffered-log")) g_buffered_log = 1;
    }
    if (g_window < 1 || g_window > 200) g_window = 64;
    char path[1200], data[1100], logs[1100];
    mkdir(g_dir, 0700);
    snprintf(data, sizeof data, "%s/data", g_dir);
    snprintf(logs, sizeof logs, "%s/log", g_dir);
    snprintf(path, sizeof path, "%s/applied.log", g_dir);
    unsigned long long resume = last_applied(path);
    g_applied = fopen(path, "a");
    snprintf(path, sizeof path, "%s/acked.log", g_dir);
    g_acked = fopen(path, "a");
    snprintf(path, sizeof path, "%s/commits.log", g_dir);
    if (trace) g_commits = fopen(path, "a");
    if (!g_applied || !g_acked || (trace && !g_commits)) {
        perror("open logs");
        return 1;
    }
    if (g_buffered_log) {
        setvbuf(g_applied, NULL, _IOFBF, 1 << 20);
        setvbuf(g_acked, NULL, _IOFBF, 1 << 20);
    }
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    signal(SIGUSR1, on_signal);

    if (dcf_register_after_writer(on_after_writer) || dcf_register_consensus_notify(on_consensus_notify) ||
        dcf_register_status_notify(on_status) || dcf_set_param("DATA_PATH", data) ||
        dcf_set_param("LOG_PATH", logs) || dcf_set_param("ELECTION_TIMEOUT", timeout) ||
        dcf_set_applied_index(1, resume)) {
        fprintf(stderr, "node %u: setup failed: %s\n", g_node, dcf_get_error(dcf_get_errorno()));
        return 1;
    }
    double t0 = now_sec();
    if (dcf_start(g_node, cluster) != 0) {
        fprintf(stderr, "node %u: dcf_start failed: %s\n", g_node, dcf_get_error(dcf_get_errorno()));
        return 1;
    }
    char took[64];
    snprintf(took, sizeof took, "%.3f\n", now_sec() - t0);
    snprintf(path, sizeof path, "%s/started", g_dir);
    write_file_atomic(path, took);
    pthread_t w;
    pthread_create(&w, NULL, writer, NULL);
    char json[4096];
    snprintf(path, sizeof path, "%s/status.json", g_dir);
    while (!g_stop) {
        if (dcf_query_stream_info(1, json, sizeof json - 2) > 0) {
            strcat(json, "\n");
            write_file_atomic(path, json);
        }
        if (g_flood) {
            char n[32], rp[1200];
            snprintf(n, sizeof n, "%llu\n", (unsigned long long)g_refused);
            snprintf(rp, sizeof rp, "%s/refused", g_dir);
            write_file_atomic(rp, n);
        }
        /* SIGTERM is acted on within 5 ms: failover figures time a planned stop from it */
        for (int k = 0; k < 20 && !g_stop; k++) sleep_ms(5);
    }
    pthread_join(w, NULL);
    double stop_start = now_sec();
    int rc = dcf_stop();
    double stop_ms = (now_sec() - stop_start) * 1e3;
    snprintf(path, sizeof path, "%s/stop_ms", g_dir);
    FILE *f = fopen(path, "a");
    if (f) {
        fprintf(f, "%.0f\n", stop_ms);
        fclose(f);
    }
    if (g_commits) fclose(g_commits);
    fclose(g_applied);
    fclose(g_acked);
    return rc == 0 ? 0 : 1;
}
