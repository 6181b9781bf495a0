/* A tiny test harness: CHECK counts, RUN prints, DONE reports "N passed, N failed". */
#ifndef DCF_TEST_HARNESS_H
#define DCF_TEST_HARNESS_H

#include <stdio.h>

static int g_passed;
static int g_failed;

#define CHECK(cond)                                                              \
    do {                                                                         \
        if (cond) {                                                              \
            g_passed++;                                                          \
        } else {                                                                 \
            g_failed++;                                                          \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                        \
    } while (0)

#define RUN(test)                          \
    do {                                   \
        int before_ = g_failed;            \
        test();                            \
        printf("%-48s %s\n", #test, g_failed == before_ ? "ok" : "FAILED"); \
    } while (0)

#define DONE()                                                  \
    do {                                                        \
        printf("%d passed, %d failed\n", g_passed, g_failed);   \
        return g_failed == 0 ? 0 : 1;                           \
    } while (0)

#endif
