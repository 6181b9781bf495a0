/* Shared by the node program, the cluster test, the demo and the benchmark: payloads that
 * can be checked from their key alone, and small file helpers. */
#ifndef DCF_NODE_COMMON_H
#define DCF_NODE_COMMON_H

#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Byte i of the payload of the entry written with `key`. */
static inline unsigned char payload_byte(unsigned long long key, unsigned i)
{
    uint64_t x = key * 0x9E3779B97F4A7C15ULL + i * 0xBF58476D1CE4E5B9ULL;
    return (unsigned char)(x >> 56);
}

static inline void fill_payload(char *buf, unsigned size, unsigned long long key)
{
    for (unsigned i = 0; i < size; i++) buf[i] = (char)payload_byte(key, i);
}

static inline int payload_ok(const char *buf, unsigned size, unsigned long long key)
{
    for (unsigned i = 0; i < size; i++)
        if ((unsigned char)buf[i] != payload_byte(key, i)) return 0;
    return 1;
}

static inline double now_sec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline double wall_sec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline void sleep_ms(unsigned ms)
{
    struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* qsort's comparison of doubles, ascending. */
static inline int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static inline int remove_entry_(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st; (void)flag; (void)ftw;
    remove(path);
    return 0;
}

/* Removes `dir` and everything under it (rm -rf). */
static inline void remove_tree(const char *dir)
{
    nftw(dir, remove_entry_, 16, FTW_DEPTH | FTW_PHYS);
}

/* Reads a whole small file into buf (NUL-terminated); returns its length or -1. */
static inline int read_file(const char *path, char *buf, size_t size)
{
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(buf, 1, size - 1, f);
    fclose(f);
    buf[n] = 0;
    return (int)n;
}

/* Replaces a file's content atomically (write a temporary, rename). */
static inline void write_file_atomic(const char *path, const char *text)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return;
    fputs(text, f);
    fclose(f);
    rename(tmp, path);
}

#endif
