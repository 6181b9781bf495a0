/* Safety check of a fault scenario, after its writes stopped and its network healed:
 *   fault_check <root> <nodes> [converge_seconds]
 * Waits until every node delivered up to the same index, then checks that every node
 * delivered an intact, increasing sequence, that all agree at every index, and that every
 * acknowledged entry is on every node. Exit status 0 only if all holds. */
#include "../cluster.h"

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s <root> <nodes> [converge_seconds]\n", argv[0]);
        return 2;
    }
    cluster_t c;
    int n = atoi(argv[2]);
    if (n < 1 || n > MAX_NODES) {
        fprintf(stderr, "nodes must be 1..%d\n", MAX_NODES);
        return 2;
    }
    cluster_init(&c, n, "", argv[1], 0);
    double wait = argc > 3 ? atof(argv[3]) : 20;
    int converged = cluster_wait_converged(&c, wait);
    if (!converged) fprintf(stderr, "nodes did not converge within %.0f s\n", wait);
    long acked = 0;
    int bad = cluster_verify(&c, &acked);
    printf("  safety: %s; %ld acknowledged entries, %d problems, last index %llu\n",
           converged && !bad && acked > 0 ? "ok" : "FAILED", acked, bad, delivered_last(&c, 1));
    return converged && !bad && acked > 0 ? 0 : 1;
}
