/* Runs a cluster of dcf_node processes on loopback and checks what they delivered. Used by
 * the multi-process test and the demo. */
#ifndef DCF_CLUSTER_H
#define DCF_CLUSTER_H

#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "node_common.h"

#define MAX_NODES 5

typedef struct {
    int n;
    char node_bin[1024];
    char root[1024];
    char json[2048];
    pid_t pid[MAX_NODES + 1];
    int write[MAX_NODES + 1];
    /* One or two more dcf_node arguments for every node, or NULL. */
    const char *extra_arg;
    const char *extra_arg2;
} cluster_t;

static inline void cluster_init(cluster_t *c, int n, const char *node_bin, const char *root, int base_port)
{
    memset(c, 0, sizeof *c);
    c->n = n;
    snprintf(c->node_bin, sizeof c->node_bin, "%s", node_bin);
    snprintf(c->root, sizeof c->root, "%s", root);
    mkdir(root, 0700);
    char *p = c->json;
    p += sprintf(p, "[");
    for (int i = 1; i <= n; i++)
        p += sprintf(p, "%s{\"stream_id\":1,\"node_id\":%d,\"ip\":\"127.0.0.1\",\"port\":%d,\"role\":\"%s\"}",
                     i > 1 ? "," : "", i, base_port + i, i == 1 ? "LEADER" : "FOLLOWER");
    sprintf(p, "]");
}

static inline void node_dir(const cluster_t *c, int i, char *out, size_t size)
{
    snprintf(out, size, "%s/node%d", c->root, i);
}

static inline void cluster_start_node(cluster_t *c, int i)
{
    char dir[1100], id[16];
    node_dir(c, i, dir, sizeof dir);
    snprintf(id, sizeof id, "%d", i);
    char role[1200];
    snprintf(role, sizeof role, "%s/role", dir);
    unlink(role);
    pid_t pid = fork();
    if (pid == 0) {
        char *argv[8];
        int n = 0;
        argv[n++] = c->node_bin;
        argv[n++] = id;
        argv[n++] = dir;
        argv[n++] = c->json;
        if (c->write[i]) argv[n++] = "--write";
        if (c->extra_arg) argv[n++] = (char *)c->extra_arg;
        if (c->extra_arg2) argv[n++] = (char *)c->extra_arg2;
        argv[n] = NULL;
        execv(c->node_bin, argv);
        _exit(127);
    }
    c->pid[i] = pid;
}

static inline int cluster_signal(cluster_t *c, int i, int sig)
{
    if (c->pid[i] <= 0) return -1;
    kill(c->pid[i], sig);
    if (sig == SIGKILL || sig == SIGTERM) {
        int status = 0;
        waitpid(c->pid[i], &status, 0);
        c->pid[i] = 0;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    return 0;
}

/* Kills every node that is still running (failure paths must not leave processes behind). */
static inline void cluster_kill_all(cluster_t *c)
{
    for (int i = 1; i <= c->n; i++)
        if (c->pid[i] > 0) cluster_signal(c, i, SIGKILL);
}

/* The node whose status document says it is LEADER, among live processes; 0 if none. */
static inline int cluster_leader(const cluster_t *c)
{
    for (int i = 1; i <= c->n; i++) {
        if (c->pid[i] <= 0) continue;
        char dir[1100], path[1200], buf[256];
        node_dir(c, i, dir, sizeof dir);
        snprintf(path, sizeof path, "%s/role", dir);
        if (read_file(path, buf, sizeof buf) > 0 && strncmp(buf, "LEADER", 6) == 0) return i;
    }
    return 0;
}

static inline int cluster_wait_leader(const cluster_t *c, double timeout_s, int not_this)
{
    double end = now_sec() + timeout_s;
    while (now_sec() < end) {
        int l = cluster_leader(c);
        if (l && l != not_this) return l;
        sleep_ms(20);
    }
    return 0;
}

/* The node's delivered entries: idx[k], key[k], ok[k] for k < *count. */
typedef struct {
    unsigned long long *idx, *key;
    int *ok;
    size_t count, cap;
} delivered_t;

static inline void delivered_load(delivered_t *d, const char *path)
{
    memset(d, 0, sizeof *d);
    FILE *f = fopen(path, "r");
    if (!f) return;
    unsigned long long i, k;
    int ok;
    while (fscanf(f, "%llu %llu %d", &i, &k, &ok) == 3) {
        if (d->count == d->cap) {
            d->cap = d->cap ? d->cap * 2 : 1024;
            d->idx = realloc(d->idx, d->cap * sizeof *d->idx);
            d->key = realloc(d->key, d->cap * sizeof *d->key);
            d->ok = realloc(d->ok, d->cap * sizeof *d->ok);
        }
        d->idx[d->count] = i;
        d->key[d->count] = k;
        d->ok[d->count] = ok;
        d->count++;
    }
    fclose(f);
}

static inline void delivered_free(delivered_t *d)
{
    free(d->idx);
    free(d->key);
    free(d->ok);
}

static inline long delivered_find(const delivered_t *d, unsigned long long idx)
{
    size_t lo = 0, hi = d->count;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (d->idx[mid] < idx) lo = mid + 1;
        else hi = mid;
    }
    return lo < d->count && d->idx[lo] == idx ? (long)lo : -1;
}

static inline unsigned long long delivered_last(const cluster_t *c, int i)
{
    char dir[1100], path[1200];
    node_dir(c, i, dir, sizeof dir);
    snprintf(path, sizeof path, "%s/applied.log", dir);
    delivered_t d;
    delivered_load(&d, path);
    unsigned long long last = d.count ? d.idx[d.count - 1] : 0;
    delivered_free(&d);
    return last;
}

/* Checks every node delivered a strictly increasing, intact sequence; that all nodes agree
 * at each index; and that every entry a leader acknowledged is on every node.
 * Prints problems; returns the number found. `acked_total` gets the number acknowledged. */
static inline int cluster_verify(const cluster_t *c, long *acked_total)
{
    delivered_t d[MAX_NODES + 1];
    char dir[1100], path[1200];
    int bad = 0;
    for (int i = 1; i <= c->n; i++) {
        node_dir(c, i, dir, sizeof dir);
        snprintf(path, sizeof path, "%s/applied.log", dir);
        delivered_load(&d[i], path);
        for (size_t k = 0; k < d[i].count; k++) {
            if (!d[i].ok[k]) {
                fprintf(stderr, "node %d: entry %llu has wrong bytes\n", i, d[i].idx[k]);
                bad++;
            }
            if (k && d[i].idx[k] <= d[i].idx[k - 1]) {
                fprintf(stderr, "node %d: index %llu after %llu\n", i, d[i].idx[k], d[i].idx[k - 1]);
                bad++;
            }
        }
    }
    for (int i = 2; i <= c->n; i++)
        for (size_t k = 0; k < d[i].count; k++) {
            long j = delivered_find(&d[1], d[i].idx[k]);
            if (j >= 0 && d[1].key[j] != d[i].key[k]) {
                fprintf(stderr, "nodes 1 and %d disagree at index %llu\n", i, d[i].idx[k]);
                bad++;
            }
        }
    *acked_total = 0;
    for (int i = 1; i <= c->n; i++) {
        node_dir(c, i, dir, sizeof dir);
        snprintf(path, sizeof path, "%s/acked.log", dir);
        FILE *f = fopen(path, "r");
        unsigned long long idx, key;
        while (f && fscanf(f, "%llu %llu", &idx, &key) == 2) {
            (*acked_total)++;
            for (int n = 1; n <= c->n; n++) {
                long j = delivered_find(&d[n], idx);
                if (j < 0 || d[n].key[j] != key) {
                    if (bad < 20)
                        fprintf(stderr, "acknowledged entry %llu (key %llx) missing on node %d\n", idx, key, n);
                    bad++;
                }
            }
        }
        if (f) fclose(f);
    }
    for (int i = 1; i <= c->n; i++) delivered_free(&d[i]);
    return bad;
}

/* Waits until every live node delivered up to the same last index (writes stopped). */
static inline int cluster_wait_converged(const cluster_t *c, double timeout_s)
{
    double end = now_sec() + timeout_s;
    while (now_sec() < end) {
        unsigned long long first = delivered_last(c, 1);
        int same = first > 0;
        for (int i = 2; i <= c->n; i++) same = same && delivered_last(c, i) == first;
        if (same) return 1;
        sleep_ms(100);
    }
    return 0;
}

#endif
