/* Three og_node processes used as openGauss uses the library, at its default configuration
 * (AUTO_ELC_PRIORITY_EN=1, standbys raising their priority with every replayed record):
 * a quiet period, a PASSIVE/FOLLOWER role round trip under load, a switchover, SIGKILL and
 * restart of the primary (twice). Checks: no unplanned leadership change; the next write is
 * acknowledged within ELECTION_TIMEOUT + 1 s of the kill; a restarted node applies again
 * soon after its start; the stream JSON reads as CM reads it; every acknowledged record is
 * on every node, in order, with an unbroken LSN chain and -1 re-deliveries honoured.
 *
 *   test_opengauss <og_node binary> <work dir>
 */
#include <stdarg.h>

#include "cluster.h"
#include "harness.h"

#define T_S 3 /* ELECTION_TIMEOUT, seconds (openGauss's default) */

static cluster_t c;

static void start(int i)
{
    char dir[1100], id[16], role[1200], t[16];
    node_dir(&c, i, dir, sizeof dir);
    snprintf(id, sizeof id, "%d", i);
    snprintf(t, sizeof t, "%d", T_S);
    snprintf(role, sizeof role, "%s/role", dir);
    unlink(role);
    pid_t pid = fork();
    if (pid == 0) {
        execl(c.node_bin, c.node_bin, id, dir, c.json, t, (char *)NULL);
        _exit(127);
    }
    c.pid[i] = pid;
}

/* The first event `name` of node i after wall time `after`; its time, or 0. */
static double event_after(int i, const char *name, double after, unsigned long long *value)
{
    char dir[1100], path[1200], what[64];
    node_dir(&c, i, dir, sizeof dir);
    snprintf(path, sizeof path, "%s/events.log", dir);
    FILE *f = fopen(path, "r");
    double t, found = 0;
    unsigned long long v;
    while (f && fscanf(f, "%lf %63s %llu", &t, what, &v) == 3) {
        if (t > after && !strcmp(what, name)) {
            found = t;
            if (value) *value = v;
            break;
        }
    }
    if (f) fclose(f);
    return found;
}

static int count_events(const char *name)
{
    int n = 0;
    for (int i = 1; i <= c.n; i++) {
        double after = 0, t;
        while ((t = event_after(i, name, after, NULL)) > 0) {
            n++;
            after = t;
        }
    }
    return n;
}

/* Reaps nodes that exited by themselves; returns how many. */
static int reap(void)
{
    int n = 0;
    for (int i = 1; i <= c.n; i++) {
        int st;
        if (c.pid[i] > 0 && waitpid(c.pid[i], &st, WNOHANG) == c.pid[i]) {
            printf("node %d exited (%s %d)\n", i, WIFEXITED(st) ? "code" : "signal",
                   WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
            c.pid[i] = 0;
            n++;
        }
    }
    return n;
}

static int g_exits;

static void run_for(double s)
{
    double end = now_sec() + s;
    while (now_sec() < end) {
        g_exits += reap();
        sleep_ms(50);
    }
}

static int leader_wait(double s, int not_this)
{
    double end = now_sec() + s;
    while (now_sec() < end) {
        g_exits += reap();
        int l = cluster_leader(&c);
        if (l && l != not_this) return l;
        sleep_ms(20);
    }
    return 0;
}

/* Runs a command on node i through its command file; returns its result code. */
static int command(int i, const char *cmd)
{
    char dir[1100], path[1200], out[512];
    node_dir(&c, i, dir, sizeof dir);
    snprintf(path, sizeof path, "%s/cmd.out", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/cmd", dir);
    write_file_atomic(path, cmd);
    snprintf(path, sizeof path, "%s/cmd.out", dir);
    double end = now_sec() + 15;
    while (now_sec() < end) {
        if (read_file(path, out, sizeof out) > 0) {
            printf("node %d: %s -> %s", i, cmd, out);
            return atoi(out);
        }
        sleep_ms(20);
    }
    printf("node %d: %s -> no answer\n", i, cmd);
    return -100;
}

/* The value of a top-level key of node i's stream JSON, as CM reads it (strstr + parse). */
static int status_field(int i, const char *key, char *out, size_t size)
{
    char dir[1100], path[1200], json[4096], pat[64];
    node_dir(&c, i, dir, sizeof dir);
    snprintf(path, sizeof path, "%s/status.json", dir);
    if (read_file(path, json, sizeof json) <= 0) return -1;
    char *nodes = strstr(json, "\"nodes\":[");
    snprintf(pat, sizeof pat, "\"%s\":", key);
    char *p = strstr(json, pat);
    if (!p || !nodes || p > nodes) return -1;
    p += strlen(pat);
    size_t n = 0;
    if (*p == '"') p++;
    while (*p && *p != '"' && *p != ',' && *p != '}' && n + 1 < size) out[n++] = *p++;
    out[n] = 0;
    return 0;
}

static int wait_role(int i, const char *role, double s)
{
    char v[64];
    double end = now_sec() + s;
    while (now_sec() < end) {
        if (status_field(i, "role", v, sizeof v) == 0 && !strcmp(v, role)) return 1;
        sleep_ms(50);
    }
    return 0;
}

/* Waits until node i, started after wall time `t1`, applies again; returns the seconds
 * from its dcf_start returning to that, or -1. */
static double restart_to_apply(int i, double t1, double timeout_s)
{
    double started = 0, applied = 0, end = now_sec() + timeout_s;
    while (!applied && now_sec() < end) {
        if (!started) started = event_after(i, "STARTED", t1, NULL);
        if (started) applied = event_after(i, "FIRST_APPLY", started, NULL);
        sleep_ms(10);
    }
    printf("restarted node %d: dcf_start returned after %.2f s, applying again %.2f s later\n", i,
           started ? started - t1 : -1, applied ? applied - started : -1);
    return applied ? applied - started : -1;
}

static int other(int a, int b)
{
    for (int i = 1; i <= 3; i++)
        if (i != a && i != b) return i;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s <og_node> <dir>\n", argv[0]);
        return 2;
    }
    cluster_init(&c, 3, argv[1], argv[2], 12000 + (getpid() % 4000));
    for (int i = 1; i <= 3; i++) start(i);
    int leader = leader_wait(20, 0);
    CHECK(leader == 1);
    if (!leader) {
        cluster_kill_all(&c);
        DONE();
    }
    int planned = 1; /* leaderships the test caused: the first one, and each below */

    /* Quiet period: standbys raise their priority with every record; nothing may move. */
    run_for(12);
    int s1 = other(leader, 0);
    char v[64];
    CHECK(wait_role(leader, "LEADER", 2));
    CHECK(wait_role(s1, "FOLLOWER", 2));
    CHECK(status_field(s1, "leader_id", v, sizeof v) == 0 && atoi(v) == leader);
    /* the value dcf_set_election_priority set (its replay LSN, refreshed once a second) */
    CHECK(status_field(s1, "priority", v, sizeof v) == 0 && strtoull(v, NULL, 10) > 0);
    printf("standby %d stream JSON: priority %s (its replay LSN)\n", s1, v);

    /* Role round trip on a standby under load. */
    CHECK(command(s1, "passive") == 0);
    CHECK(wait_role(s1, "PASSIVE", 5));
    run_for(1);
    CHECK(command(s1, "follower") == 0);
    CHECK(wait_role(s1, "FOLLOWER", 5));
    run_for(2);

    /* Switchover: the standby promotes itself; the old primary exits, CM restarts it. */
    int target = other(leader, 0);
    int before = g_exits;
    CHECK(command(target, "promote") == 0);
    CHECK(leader_wait(10, leader) == target);
    run_for(1);
    CHECK(g_exits == before + 1 && c.pid[leader] == 0);
    g_exits = before;
    double t1 = wall_sec();
    if (c.pid[leader] == 0) start(leader);
    /* the next fault only once the restarted node takes part again */
    double worst_restart = restart_to_apply(leader, t1, 20);
    CHECK(worst_restart >= 0);
    leader = target;
    planned++;
    run_for(3);

    /* Failover: SIGKILL of the primary, then restart it. */
    double worst_failover = 0;
    for (int k = 0; k < 2; k++) {
        double t0 = wall_sec();
        cluster_signal(&c, leader, SIGKILL);
        int next = leader_wait(3 * T_S, leader);
        CHECK(next != 0);
        planned++;
        double acked = 0, end = now_sec() + 3 * T_S;
        while (next && !acked && now_sec() < end) {
            acked = event_after(next, "FIRST_ACK", t0, NULL);
            sleep_ms(10);
        }
        double failover = acked ? acked - t0 : -1;
        printf("SIGKILL of primary %d: node %d acknowledged the next write after %.2f s\n", leader, next, failover);
        CHECK(acked && failover <= T_S + 1.0);
        if (failover > worst_failover) worst_failover = failover;
        t1 = wall_sec();
        start(leader);
        double r = restart_to_apply(leader, t1, 20);
        CHECK(r >= 0);
        if (r > worst_restart) worst_restart = r;
        leader = next;
        run_for(3);
    }

    /* Stop writing, let everyone converge, stop, verify. */
    for (int i = 1; i <= 3; i++) {
        char dir[1100], path[1200], buf[8];
        node_dir(&c, i, dir, sizeof dir);
        snprintf(path, sizeof path, "%s/quiet", dir);
        unlink(path);
        if (c.pid[i] > 0) kill(c.pid[i], SIGUSR1);
        double end = now_sec() + 10;
        while (c.pid[i] > 0 && read_file(path, buf, sizeof buf) <= 0 && now_sec() < end) sleep_ms(10);
    }
    CHECK(cluster_wait_converged(&c, 30));
    g_exits += reap();
    /* Standbys first, the primary last, as a cluster is shut down: a primary stopped first
     * hands over to a standby, a leadership the counts below do not plan for. */
    int last = cluster_leader(&c);
    for (int i = 1; i <= 3; i++)
        if (i != last) CHECK(c.pid[i] > 0 && cluster_signal(&c, i, SIGTERM) == 0);
    if (last) CHECK(c.pid[last] > 0 && cluster_signal(&c, last, SIGTERM) == 0);
    int leaderships = count_events("LEADER");
    int demotions = count_events("FOLLOWER");
    int broken = count_events("CHAIN_BROKEN") + count_events("REOFFER_WRONG");
    long acked_total = 0;
    int bad = cluster_verify(&c, &acked_total);
    printf("leaderships %d (planned %d), demotions %d (planned 1), unplanned exits %d, LSN chain/re-delivery "
           "problems %d\n",
           leaderships, planned, demotions, g_exits, broken);
    printf("worst failover %.2f s (bound %d s), worst restart-to-apply %.2f s\n", worst_failover, T_S + 1,
           worst_restart);
    printf("%ld acknowledged records checked on 3 nodes, %d problems\n", acked_total, bad);
    CHECK(leaderships == planned);
    CHECK(demotions == 1);
    CHECK(g_exits == 0);
    CHECK(broken == 0);
    CHECK(bad == 0);
    CHECK(acked_total > 0);
    /* The 1 s target needs peers to notice a restarted process at once instead of sending on
     * the dead one's connection until it times out; enforced when DCF_RESTART_APPLY_BOUND_S
     * is set, reported otherwise. */
    const char *bound = getenv("DCF_RESTART_APPLY_BOUND_S");
    if (bound) CHECK(worst_restart <= atof(bound));
    else if (worst_restart > 1.0)
        printf("NOTE: restart-to-apply %.2f s is above the 1 s target (not enforced; set "
               "DCF_RESTART_APPLY_BOUND_S to enforce a bound)\n",
               worst_restart);
    DONE();
}
