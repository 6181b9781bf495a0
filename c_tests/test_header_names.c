/* Code written against DCF's header names its enum tags, its pause-time constants and its
 * EXPORT_API macro; all of them must compile unchanged against ours, as C and as C++. Most
 * checks are static: this file failing to compile is the test failing. */
#include "dcf_interface.h"

#include <stdio.h>

#ifdef __cplusplus
#include <type_traits>
#define STATIC_CHECK(cond, msg) static_assert(cond, msg)
#define IS_UINT(x) (std::is_same<decltype(x), unsigned int>::value)
#define IS_INT(x) (std::is_same<decltype(x), int>::value)
#else
#define STATIC_CHECK(cond, msg) _Static_assert(cond, msg)
#define IS_UINT(x) _Generic((x), unsigned int: 1, default: 0)
#define IS_INT(x) _Generic((x), int: 1, default: 0)
#endif

/* The constants keep DCF's values and types. */
STATIC_CHECK(DCF_MAX_PAUSE_TIME == 0xFFFFFFFFu, "DCF_MAX_PAUSE_TIME is (unsigned int)(-1)");
STATIC_CHECK(IS_UINT(DCF_MAX_PAUSE_TIME), "DCF_MAX_PAUSE_TIME is an unsigned int");
STATIC_CHECK(DCF_MIN_PAUSE_TIME == 0, "DCF_MIN_PAUSE_TIME is 0");
STATIC_CHECK(IS_INT(DCF_MIN_PAUSE_TIME), "DCF_MIN_PAUSE_TIME is a plain 0");
STATIC_CHECK(DCF_MAX_NORMAL_USE_PAUSE_TIME == 1000000u, "one second in microseconds");
STATIC_CHECK(IS_UINT(DCF_MAX_NORMAL_USE_PAUSE_TIME), "DCF_MAX_NORMAL_USE_PAUSE_TIME is 1000000U");

/* Every tag names the same type as its typedef: a pointer to one converts to the other without
 * a cast (an error in C++ and, with -Werror, in C if they differed). */
static enum en_dcf_role g_role = DCF_ROLE_FOLLOWER;
static dcf_role_t *g_role_p = &g_role;
static enum en_dcf_exception g_exc = DCF_EXCEPTION_MISSING_LOG;
static dcf_exception_t *g_exc_p = &g_exc;
static enum en_dcf_commit_index_type g_idx = DCF_CONSENSUS_COMMIT_INDEX;
static dcf_commit_index_type_t *g_idx_p = &g_idx;
static enum e_dcf_work_mode g_mode = WM_MINORITY;
static dcf_work_mode_t *g_mode_p = &g_mode;

STATIC_CHECK(sizeof(enum en_dcf_role) == sizeof(int), "enums are int-sized");
STATIC_CHECK(DCF_ROLE_CEIL == 7 && DCF_EXCEPTION_CEIL == 2, "enumerator values as DCF");
STATIC_CHECK(DCF_INDEX_LEVEL_CEIL == 4 && WM_CEIL == 2, "enumerator values as DCF");

/* Callbacks declared with the tags fit the callback typedefs. */
static int cb_status(unsigned int stream_id, enum en_dcf_role role)
{
    return (int)stream_id + (int)role;
}
static int cb_exception(unsigned int stream_id, enum en_dcf_exception exc)
{
    return (int)stream_id + (int)exc;
}

/* The interface redeclared as DCF's header spells it, EXPORT_API and tags included. */
#ifdef __cplusplus
extern "C" {
#endif
EXPORT_API int dcf_pause_rep(unsigned int stream_id, unsigned int node_id, unsigned int time_us);
EXPORT_API int dcf_add_member(unsigned int stream_id, unsigned int node_id, const char *ip,
                              unsigned int port, enum en_dcf_role role, unsigned int wait_timeout_ms);
EXPORT_API int dcf_set_work_mode(unsigned int stream_id, enum e_dcf_work_mode work_mode,
                                 unsigned int vote_num);
EXPORT_API int dcf_get_data_commit_index(unsigned int stream_id,
                                         enum en_dcf_commit_index_type index_type,
                                         unsigned long long *index);
EXPORT_API void dcf_set_exception(unsigned int stream_id, enum en_dcf_exception exception);
EXPORT_API const char *dcf_get_error(int code);
#ifdef __cplusplus
}
#endif

/* A host may use the macro for its own exports too. */
EXPORT_API int host_exported(void);
EXPORT_API int host_exported(void)
{
    return 1;
}

int main(void)
{
    usr_cb_status_notify_t status = cb_status;
    usr_cb_exception_notify_t exception = cb_exception;
    int failures = 0;

    if (status(1, *g_role_p) != 3 || exception(1, *g_exc_p) != 2) {
        failures++;
    }
    if (*g_idx_p != DCF_CONSENSUS_COMMIT_INDEX || *g_mode_p != WM_MINORITY) {
        failures++;
    }
    if (host_exported() != 1) {
        failures++;
    }
    /* Not started: the calls fail cleanly whatever the argument types. */
    if (dcf_pause_rep(1, 2, DCF_MAX_PAUSE_TIME) != -1 || dcf_set_work_mode(1, WM_NORMAL, 0) != -1) {
        failures++;
    }
    if (dcf_get_error(0) == NULL) {
        failures++;
    }
    if (failures != 0) {
        fprintf(stderr, "test_header_names: %d failure(s)\n", failures);
        return 1;
    }
    printf("test_header_names (%s): ok\n", sizeof(char) == sizeof('a') ? "C++" : "C");
    return 0;
}
