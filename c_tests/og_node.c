/* A DCF node that drives the library as an openGauss instance does, in its own process.
 *
 *   og_node <node_id> <dir> <cluster_json> <election_timeout_s>
 *
 * - The primary writes XLog-like records of 100 B to 32 KiB keyed by their end LSN; each
 *   record starts with its start LSN, which must equal the previous record's key (the LSN
 *   chain). Like the WAL writer it waits for after_writer before running too far ahead.
 * - Standbys check the chain in consensus_notify, return -1 ("not ready") the first time
 *   they are offered every 50th index and expect the same index again, and set their replay
 *   LSN as election priority after every record (AUTO_ELC_PRIORITY_EN stays at its default).
 * - status_notify(LEADER) promotes once dcf_check_if_all_logs_applied says so (as the
 *   startup thread does); status_notify(FOLLOWER) after LEADER exits the process, as
 *   gaussdb does when DCF demotes its primary.
 *
 * In <dir>: data/, log/, applied.log ("index key ok"), acked.log ("index key"), role,
 * status.json, events.log ("<wall time> <EVENT> [value]"), and a command file `cmd` polled
 * every 20 ms ("passive", "follower", "promote"; the result goes to cmd.out). SIGUSR1 stops
 * writing (the file `quiet` appears once no write is in flight); SIGTERM stops cleanly.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dcf_interface.h"
#include "node_common.h"

#define REC_MIN 100u
#define REC_MAX (32u << 10)
#define HDR 12u /* start LSN (8) + size (4) */

static char g_dir[1024];
static FILE *g_applied, *g_acked, *g_events;
static unsigned g_node;
static atomic_int g_stop, g_leader, g_writing = 1;
static atomic_ullong g_outstanding;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
/* The WAL insert lock: held across dcf_write, so records chain in index order. */
static pthread_mutex_t g_wal = PTHREAD_MUTEX_INITIALIZER;
/* End LSN of the last record delivered (receivePtr), and the primary's insert position. */
static unsigned long long g_lsn, g_insert;
static unsigned long long g_refused; /* index answered -1 and not yet re-offered */
static int g_first_apply = 1, g_first_ack = 1;

static void event(const char *what, unsigned long long value)
{
    pthread_mutex_lock(&g_lock);
    fprintf(g_events, "%.6f %s %llu\n", wall_sec(), what, value);
    fflush(g_events);
    pthread_mutex_unlock(&g_lock);
}

static unsigned rec_size(unsigned long long start)
{
    return REC_MIN + (unsigned)((start * 0x9E3779B97F4A7C15ULL) >> 40) % (REC_MAX - REC_MIN + 1);
}

/* Checks one record and the chain; records it. Called with g_lock held. */
static void record(unsigned long long index, const char *buf, unsigned size, unsigned long long key, int acked)
{
    unsigned long long start = 0;
    unsigned len = 0;
    int ok = size >= HDR;
    if (ok) {
        memcpy(&start, buf, 8);
        memcpy(&len, buf + 8, 4);
        ok = len == size && start + size == key && payload_ok(buf + HDR, size - HDR, key);
    }
    if (ok && g_lsn && start != g_lsn) {
        fprintf(g_events, "%.6f CHAIN_BROKEN %llu\n", wall_sec(), index);
        ok = 0;
    }
    g_lsn = key;
    fprintf(g_applied, "%llu %llu %d\n", index, key, ok);
    fflush(g_applied);
    if (acked) {
        fprintf(g_acked, "%llu %llu\n", index, key);
        fflush(g_acked);
    }
}

static int on_after_writer(unsigned int stream, unsigned long long index, const char *buf, unsigned int size,
                           unsigned long long key, int error_no)
{
    (void)stream;
    (void)error_no;
    pthread_mutex_lock(&g_lock);
    record(index, buf, size, key, 1);
    if (g_first_ack) {
        g_first_ack = 0;
        fprintf(g_events, "%.6f FIRST_ACK %llu\n", wall_sec(), index);
        fflush(g_events);
    }
    pthread_mutex_unlock(&g_lock);
    if (g_outstanding > 0) g_outstanding--;
    return 0;
}

static int on_consensus_notify(unsigned int stream, unsigned long long index, const char *buf, unsigned int size,
                               unsigned long long key)
{
    (void)stream;
    pthread_mutex_lock(&g_lock);
    if (g_refused && index != g_refused) {
        fprintf(g_events, "%.6f REOFFER_WRONG %llu\n", wall_sec(), index);
        fflush(g_events);
    }
    if (!g_refused && index % 50 == 0) {
        /* the walreceiver is not ready: the same index must come again */
        g_refused = index;
        pthread_mutex_unlock(&g_lock);
        return -1;
    }
    g_refused = 0;
    record(index, buf, size, key, 0);
    if (g_first_apply) {
        g_first_apply = 0;
        fprintf(g_events, "%.6f FIRST_APPLY %llu\n", wall_sec(), index);
        fflush(g_events);
    }
    pthread_mutex_unlock(&g_lock);
    /* as SetXLogReplayRecPtr: every replayed record raises the priority */
    dcf_set_election_priority(1, key);
    return 0;
}

static int on_status(unsigned int stream, dcf_role_t role)
{
    (void)stream;
    char path[1100];
    snprintf(path, sizeof path, "%s/role", g_dir);
    if (role == DCF_ROLE_LEADER) {
        /* the startup thread finishes recovery only once every log is applied */
        unsigned int flag = 0;
        while (!g_stop && (dcf_check_if_all_logs_applied(1, &flag) != 0 || !flag)) sleep_ms(1);
        event("LEADER", 0);
        g_outstanding = 0;
        pthread_mutex_lock(&g_wal);
        pthread_mutex_lock(&g_lock);
        g_insert = g_lsn; /* every record is applied: WAL continues from there */
        pthread_mutex_unlock(&g_lock);
        pthread_mutex_unlock(&g_wal);
        g_leader = 1;
        write_file_atomic(path, "LEADER\n");
    } else {
        event("FOLLOWER", 0);
        if (g_leader) {
            /* gaussdb's demote in DCF mode: the whole process exits, no dcf_stop */
            _exit(3);
        }
        write_file_atomic(path, "FOLLOWER\n");
    }
    return 0;
}

static void on_signal(int sig)
{
    if (sig == SIGUSR1) g_writing = 0;
    else g_stop = 1;
}

/* Resume point after a restart: the last index and LSN in applied.log. */
static void resume(const char *path, unsigned long long *index, unsigned long long *lsn)
{
    FILE *f = fopen(path, "r");
    unsigned long long i, k;
    int ok;
    *index = *lsn = 0;
    if (!f) return;
    while (fscanf(f, "%llu %llu %d", &i, &k, &ok) == 3) {
        *index = i;
        *lsn = k;
    }
    fclose(f);
}

static void *writer(void *arg)
{
    (void)arg;
    char *buf = malloc(REC_MAX);
    int quiet = 0;
    while (!g_stop) {
        unsigned int writable = 0;
        if (!g_writing && !quiet && (g_outstanding == 0 || !g_leader)) {
            /* tells the test that no write is in flight any more */
            char path[1100];
            snprintf(path, sizeof path, "%s/quiet", g_dir);
            write_file_atomic(path, "1\n");
            quiet = 1;
        }
        if (!g_leader || !g_writing || g_outstanding >= 16 || dcf_check_if_all_logs_applied(1, &writable) != 0 ||
            !writable) {
            sleep_ms(2);
            continue;
        }
        pthread_mutex_lock(&g_wal);
        unsigned long long start = g_insert;
        unsigned size = rec_size(start);
        unsigned long long key = start + size;
        memcpy(buf, &start, 8);
        memcpy(buf + 8, &size, 4);
        fill_payload(buf + HDR, size - HDR, key);
        unsigned long long index;
        int rc = dcf_write(1, buf, size, key, &index);
        if (rc == 0) {
            g_insert = key;
            g_outstanding++;
        }
        pthread_mutex_unlock(&g_wal);
        sleep_ms(rc == 0 ? 4 : 20);
    }
    free(buf);
    return NULL;
}

static void run_command(void)
{
    char path[1100], cmd[64], out[256];
    snprintf(path, sizeof path, "%s/cmd", g_dir);
    if (read_file(path, cmd, sizeof cmd) <= 0) return;
    unlink(path);
    int rc = -2;
    if (!strncmp(cmd, "passive", 7)) rc = dcf_change_member_role(1, g_node, DCF_ROLE_PASSIVE, 3000);
    else if (!strncmp(cmd, "follower", 8)) rc = dcf_change_member_role(1, g_node, DCF_ROLE_FOLLOWER, 3000);
    else if (!strncmp(cmd, "promote", 7)) rc = dcf_promote_leader(1, g_node, 3000);
    snprintf(out, sizeof out, "%d %s\n", rc, rc == 0 ? "" : dcf_get_error(dcf_get_errorno()));
    snprintf(path, sizeof path, "%s/cmd.out", g_dir);
    write_file_atomic(path, out);
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: %s <node_id> <dir> <cluster_json> <election_timeout_s>\n", argv[0]);
        return 2;
    }
    g_node = (unsigned)atoi(argv[1]);
    snprintf(g_dir, sizeof g_dir, "%s", argv[2]);
    char path[1200], data[1100], logs[1100];
    mkdir(g_dir, 0700);
    snprintf(data, sizeof data, "%s/data", g_dir);
    snprintf(logs, sizeof logs, "%s/log", g_dir);
    snprintf(path, sizeof path, "%s/applied.log", g_dir);
    unsigned long long applied;
    resume(path, &applied, &g_lsn);
    g_applied = fopen(path, "a");
    snprintf(path, sizeof path, "%s/acked.log", g_dir);
    g_acked = fopen(path, "a");
    snprintf(path, sizeof path, "%s/events.log", g_dir);
    g_events = fopen(path, "a");
    if (!g_applied || !g_acked || !g_events) {
        perror("open logs");
        return 1;
    }
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    signal(SIGUSR1, on_signal);
    if (dcf_register_after_writer(on_after_writer) || dcf_register_consensus_notify(on_consensus_notify) ||
        dcf_register_status_notify(on_status) || dcf_set_param("DATA_PATH", data) ||
        dcf_set_param("LOG_PATH", logs) || dcf_set_param("ELECTION_TIMEOUT", argv[4]) ||
        dcf_set_applied_index(1, applied)) {
        fprintf(stderr, "node %u: setup failed: %s\n", g_node, dcf_get_error(dcf_get_errorno()));
        return 1;
    }
    if (dcf_start(g_node, argv[3]) != 0) {
        fprintf(stderr, "node %u: dcf_start failed: %s\n", g_node, dcf_get_error(dcf_get_errorno()));
        return 1;
    }
    event("STARTED", applied);
    pthread_t w;
    pthread_create(&w, NULL, writer, NULL);
    char json[4096];
    snprintf(path, sizeof path, "%s/status.json", g_dir);
    for (unsigned tick = 0; !g_stop; tick++) {
        run_command();
        if (tick % 5 == 0 && dcf_query_stream_info(1, json, sizeof json - 2) > 0) {
            strcat(json, "\n");
            write_file_atomic(path, json);
        }
        sleep_ms(20);
    }
    pthread_join(w, NULL);
    int rc = dcf_stop();
    fclose(g_applied);
    fclose(g_acked);
    fclose(g_events);
    return rc == 0 ? 0 : 1;
}
