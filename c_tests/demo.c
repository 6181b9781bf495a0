/* make demo: a three-node cluster on loopback. It writes, shows the stream document, kills
 * the leader with SIGKILL, shows the new leader taking over with no committed entry lost,
 * and stops cleanly.   demo <dcf_node binary> <work dir> */
#include "cluster.h"

static void show(const cluster_t *c, int i, const char *what)
{
    char dir[1100], path[1200], json[4096];
    node_dir(c, i, dir, sizeof dir);
    snprintf(path, sizeof path, "%s/status.json", dir);
    int n = read_file(path, json, sizeof json);
    while (n > 0 && json[n - 1] == '\n') json[--n] = 0;
    if (n > 0) printf("%s (node %d):\n  %s\n", what, i, json);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s <dcf_node> <dir>\n", argv[0]);
        return 2;
    }
    cluster_t c;
    cluster_init(&c, 3, argv[1], argv[2], 17000 + (getpid() % 1000));
    printf("starting three nodes: %s\n\n", c.json);
    for (int i = 1; i <= 3; i++) {
        c.write[i] = 1;
        cluster_start_node(&c, i);
    }
    int leader = cluster_wait_leader(&c, 20, 0);
    if (!leader) {
        fprintf(stderr, "no leader was elected\n");
        cluster_kill_all(&c);
        return 1;
    }
    printf("node %d is leader and writes; waiting 2 s\n", leader);
    sleep_ms(2000);
    show(&c, leader, "stream document of the leader");
    printf("\ndelivered so far: node1 %llu, node2 %llu, node3 %llu (last index)\n",
           delivered_last(&c, 1), delivered_last(&c, 2), delivered_last(&c, 3));
    printf("\nSIGKILL leader %d\n", leader);
    double t0 = now_sec();
    cluster_signal(&c, leader, SIGKILL);
    int next = cluster_wait_leader(&c, 20, leader);
    if (!next) {
        fprintf(stderr, "no new leader\n");
        cluster_kill_all(&c);
        return 1;
    }
    printf("node %d took over after %.2f s\n", next, now_sec() - t0);
    sleep_ms(1000);
    show(&c, next, "stream document of the new leader");
    printf("\nrestarting node %d; it catches up as a follower\n", leader);
    cluster_start_node(&c, leader);
    sleep_ms(1500);
    for (int i = 1; i <= 3; i++) kill(c.pid[i], SIGUSR1);
    int converged = cluster_wait_converged(&c, 30);
    for (int i = 1; i <= 3; i++) cluster_signal(&c, i, SIGTERM);
    long acked = 0;
    int bad = cluster_verify(&c, &acked);
    printf("\nstopped. %ld acknowledged entries, every one present on all three nodes in the same order: %s\n",
           acked, (bad == 0 && converged) ? "yes" : "NO");
    return bad == 0 && converged ? 0 : 1;
}
