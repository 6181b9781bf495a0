/* Multi-process cluster through the C interface: three nodes write under load while the
 * leader is killed with SIGKILL and restarted, again and again. Afterwards every entry an
 * after_writer acknowledged must be on every node, in the same order, with the same bytes.
 *
 *   test_cluster <dcf_node binary> <work dir> [cycles]
 */
#include "cluster.h"
#include "harness.h"

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s <dcf_node> <dir> [cycles]\n", argv[0]);
        return 2;
    }
    int cycles = argc > 3 ? atoi(argv[3]) : 5;
    cluster_t c;
    cluster_init(&c, 3, argv[1], argv[2], 20000 + (getpid() % 20000));
    for (int i = 1; i <= 3; i++) {
        c.write[i] = 1;
        cluster_start_node(&c, i);
    }
    int leader = cluster_wait_leader(&c, 20, 0);
    CHECK(leader != 0);
    for (int k = 0; k < cycles && leader; k++) {
        sleep_ms(500); /* writes flow */
        printf("cycle %d: SIGKILL leader %d\n", k + 1, leader);
        fflush(stdout);
        cluster_signal(&c, leader, SIGKILL);
        cluster_start_node(&c, leader);
        /* any node may win, the restarted one included (its role file was reset) */
        int next = cluster_wait_leader(&c, 20, 0);
        CHECK(next != 0);
        leader = next;
    }
    if (!leader) {
        cluster_kill_all(&c);
        DONE();
    }
    for (int i = 1; i <= 3; i++) kill(c.pid[i], SIGUSR1); /* stop writing */
    CHECK(cluster_wait_converged(&c, 30));
    for (int i = 1; i <= 3; i++) CHECK(cluster_signal(&c, i, SIGTERM) == 0);
    long acked = 0;
    int bad = cluster_verify(&c, &acked);
    printf("%ld acknowledged entries checked on 3 nodes, %d problems\n", acked, bad);
    CHECK(bad == 0);
    CHECK(acked > 0);
    DONE();
}
