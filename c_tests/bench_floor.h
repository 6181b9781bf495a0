/* make bench: what the machine allows a single commit, to read the commit latency against.
 * A commit waits for a small write made durable on two of three nodes (each node's disk
 * write in flight with the others'), plus the network and the threads that carry it. So:
 *   - the disk's floor: one 112-byte record (our 48-byte header and a 64-byte entry) written
 *     with pwrite and made durable with fdatasync, into a preallocated file, by one writer
 *     alone and by three at once (as a commit has them);
 *   - the commit latency with every node's data on a RAM disk (/dev/shm, where fdatasync is
 *     free): the library, loopback and the thread wake-ups alone.
 * Both go to floor.tsv (label, p50 ms, p99 ms) for the report. */
#ifndef DCF_BENCH_FLOOR_H
#define DCF_BENCH_FLOOR_H

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "node_common.h"

#define FLOOR_RECORD 112
#define FLOOR_FILE_BYTES (16 << 20)

typedef struct {
    char path[1200];
    unsigned samples;
    double *lat; /* ms */
    pthread_barrier_t *start;
    int failed;
} floor_job_t;

static void *floor_writer(void *arg)
{
    floor_job_t *j = arg;
    char rec[FLOOR_RECORD];
    memset(rec, 'f', sizeof rec);
    int fd = open(j->path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    /* Preallocated and synced first, as our segments are: the timed syncs then write data,
     * not the file's size. */
    j->failed = fd < 0 || posix_fallocate(fd, 0, FLOOR_FILE_BYTES) != 0 || fsync(fd) != 0;
    pthread_barrier_wait(j->start);
    for (unsigned i = 0; i < j->samples && !j->failed; i++) {
        double t0 = now_sec();
        off_t off = (off_t)i * FLOOR_RECORD;
        if (pwrite(fd, rec, sizeof rec, off) != (ssize_t)sizeof rec || fdatasync(fd) != 0) j->failed = 1;
        j->lat[i] = (now_sec() - t0) * 1e3;
    }
    if (fd >= 0) close(fd);
    unlink(j->path);
    return NULL;
}

/* Runs `writers` threads of `samples` timed syncs each in `dir`; the p50/p99 over all of
 * them. 0 on success. */
static int floor_syncs(const char *dir, int writers, unsigned samples, double *p50, double *p99)
{
    floor_job_t jobs[3];
    pthread_t th[3];
    pthread_barrier_t start;
    unsigned n = (unsigned)writers * samples;
    double *all = malloc(n * sizeof *all);
    int failed = !all;
    pthread_barrier_init(&start, NULL, (unsigned)writers);
    for (int w = 0; w < writers && !failed; w++) {
        snprintf(jobs[w].path, sizeof jobs[w].path, "%s/floor-%d", dir, w);
        jobs[w].samples = samples;
        jobs[w].lat = all + (size_t)w * samples;
        jobs[w].start = &start;
        jobs[w].failed = 0;
    }
    for (int w = 0; w < writers && !failed; w++) pthread_create(&th[w], NULL, floor_writer, &jobs[w]);
    for (int w = 0; w < writers && !failed; w++) {
        pthread_join(th[w], NULL);
        failed |= jobs[w].failed;
    }
    pthread_barrier_destroy(&start);
    if (!failed) {
        qsort(all, n, sizeof *all, cmp_double);
        *p50 = all[n / 2];
        *p99 = all[(n * 99) / 100];
    }
    free(all);
    return failed;
}

/* The disk's floor in `dir` (on the disk the nodes' data is on), printed and written to
 * `f` (may be NULL). */
static void disk_floor(const char *dir, FILE *f)
{
    double p50[2], p99[2];
    if (floor_syncs(dir, 1, 2000, &p50[0], &p99[0]) || floor_syncs(dir, 3, 2000, &p50[1], &p99[1])) {
        fprintf(stderr, "disk floor: cannot write and sync in %s\n", dir);
        return;
    }
    printf("disk floor  pwrite %d B + fdatasync  one writer p50=%.3f ms  p99=%.3f ms;  three at once p50=%.3f ms  "
           "p99=%.3f ms\n",
           FLOOR_RECORD, p50[0], p99[0], p50[1], p99[1]);
    if (f) fprintf(f, "disk1\t%.4f\t%.4f\ndisk3\t%.4f\t%.4f\n", p50[0], p99[0], p50[1], p99[1]);
}

/* A directory for nodes' data on a RAM disk with room to spare, or 0 if there is none. */
static int ram_dir(char *out, size_t size)
{
    struct statvfs s;
    if (statvfs("/dev/shm", &s) != 0 || (double)s.f_bavail * s.f_frsize < 1024.0 * 1024 * 1024) return 0;
    snprintf(out, size, "/dev/shm/dcf-bench-%d", (int)getpid());
    return mkdir(out, 0700) == 0;
}

#endif
