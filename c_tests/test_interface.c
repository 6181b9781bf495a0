/* The interface without a running cluster: parameters, errors, registration, bad input. */
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "dcf_interface.h"
#include "harness.h"

static int get(const char *name, char *buf, unsigned size) { return dcf_get_param(name, buf, size); }

static void test_param_defaults(void)
{
    char buf[64];
    CHECK(get("ELECTION_TIMEOUT", buf, sizeof buf) == 0 && strcmp(buf, "3000") == 0);
    CHECK(get("RUN_MODE", buf, sizeof buf) == 0 && strcmp(buf, "0") == 0);
    CHECK(get("DN_FLOW_CONTROL_RTO", buf, sizeof buf) == 0 && strcmp(buf, "0") == 0);
    CHECK(get("LOG_FILE_PERMISSION", buf, sizeof buf) == 0 && strcmp(buf, "600") == 0);
    CHECK(get("MEC_FRAGMENT_SIZE", buf, sizeof buf) == 0 && strcmp(buf, "65536") == 0);
}

static void test_param_round_trip(void)
{
    char buf[10]; /* openGauss reads RTO/RPO back through a 10-byte buffer */
    CHECK(dcf_set_param("DN_FLOW_CONTROL_RTO", "120") == 0);
    CHECK(get("DN_FLOW_CONTROL_RTO", buf, sizeof buf) == 0 && atoi(buf) == 120);
    CHECK(dcf_set_param("DN_FLOW_CONTROL_RPO", "3600") == 0);
    CHECK(get("DN_FLOW_CONTROL_RPO", buf, sizeof buf) == 0 && atoi(buf) == 3600);
    CHECK(dcf_set_param("ELECTION_TIMEOUT", "5") == 0);
    CHECK(get("ELECTION_TIMEOUT", buf, sizeof buf) == 0 && strcmp(buf, "5000") == 0);
    CHECK(dcf_set_param("ELECTION_TIMEOUT", "3") == 0);
    CHECK(dcf_set_param("LOG_LEVEL", "RUN_ERR|RUN_WAR|DEBUG_ERR|OPER|RUN_INF|PROFILE") == 0);
    CHECK(dcf_set_param("MAJORITY_GROUPS", "1,2") == 0);
    CHECK(get("MAJORITY_GROUPS", buf, sizeof buf) == 0 && strcmp(buf, "1,2") == 0);
    CHECK(dcf_set_param("MAJORITY_GROUPS", "") == 0);
}

static void test_param_values_are_copied(void)
{
    char value[16];
    char out[16];
    strcpy(value, "77");
    CHECK(dcf_set_param("DN_FLOW_CONTROL_RPO", value) == 0);
    memset(value, 0, sizeof value); /* openGauss wipes its buffer right after the call */
    CHECK(get("DN_FLOW_CONTROL_RPO", out, sizeof out) == 0 && strcmp(out, "77") == 0);
    char pwd[32];
    strcpy(pwd, "secret-pass");
    CHECK(dcf_set_param("SSL_PWD_PLAINTEXT", pwd) == 0);
    memset(pwd, 0, sizeof pwd);
    CHECK(get("SSL_PWD_PLAINTEXT", out, sizeof out) != 0 || strcmp(out, "secret-pass") != 0);
}

static void test_param_errors(void)
{
    char buf[64];
    CHECK(dcf_set_param("NO_SUCH_PARAM", "1") == -1);
    CHECK(dcf_get_errorno() != 0);
    CHECK(strlen(dcf_get_error(dcf_get_errorno())) > 0);
    CHECK(dcf_set_param("ELECTION_TIMEOUT", "0") == -1);
    CHECK(dcf_set_param("ELECTION_TIMEOUT", "601") == -1);
    CHECK(dcf_set_param("ELECTION_TIMEOUT", "abc") == -1);
    CHECK(dcf_set_param("ELECTION_TIMEOUT", "-3") == -1);
    CHECK(dcf_set_param("ELECTION_TIMEOUT", "99999999999999999999") == -1);
    CHECK(dcf_set_param("LOG_FILE_PERMISSION", "777") == -1);
    CHECK(dcf_set_param("RUN_MODE", "3") == -1);
    CHECK(dcf_set_param("LOG_LEVEL", "RUN_ERR|BOGUS") == -1);
    CHECK(dcf_set_param("MAJORITY_GROUPS", "1,x") == -1);
    CHECK(dcf_set_param("MAJORITY_GROUPS", "1,1") == 0); /* duplicates are dropped */
    CHECK(get("MAJORITY_GROUPS", buf, sizeof buf) == 0 && strcmp(buf, "1") == 0);
    CHECK(dcf_set_param("MAJORITY_GROUPS", "") == 0);
    CHECK(dcf_get_param("NO_SUCH_PARAM", buf, sizeof buf) == -1);
    /* unchanged after the failures */
    CHECK(get("ELECTION_TIMEOUT", buf, sizeof buf) == 0 && strcmp(buf, "3000") == 0);
    /* too small a buffer is an error, not a silent truncation */
    CHECK(dcf_get_param("ELECTION_TIMEOUT", buf, 4) == -1);
    CHECK(dcf_get_errorno() != 0);
    CHECK(dcf_get_param("ELECTION_TIMEOUT", buf, 5) == 0 && strcmp(buf, "3000") == 0);
    /* a success clears the thread's error */
    CHECK(dcf_get_errorno() == 0);
}

static void *set_from_thread(void *arg)
{
    (void)arg;
    for (int i = 0; i < 200; i++) {
        if (dcf_set_param("DN_FLOW_CONTROL_RTO", (i & 1) ? "10" : "20") != 0) return (void *)1;
        char buf[10];
        if (dcf_get_param("DN_FLOW_CONTROL_RTO", buf, sizeof buf) != 0) return (void *)1;
        if (strcmp(buf, "10") != 0 && strcmp(buf, "20") != 0) return (void *)1;
    }
    return NULL;
}

static void test_params_from_threads(void)
{
    pthread_t t[4];
    void *r;
    int bad = 0;
    for (int i = 0; i < 4; i++) CHECK(pthread_create(&t[i], NULL, set_from_thread, NULL) == 0);
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], &r);
        bad += r != NULL;
    }
    CHECK(bad == 0);
}

static void test_null_and_bad_pointers(void)
{
    char buf[64];
    unsigned long long idx = 0;
    unsigned int u = 0;
    dcf_role_t role;
    CHECK(dcf_set_param(NULL, "1") == -1 && dcf_get_errorno() == 26);
    CHECK(dcf_set_param("RUN_MODE", NULL) == -1 && dcf_get_errorno() == 26);
    CHECK(dcf_get_param(NULL, buf, sizeof buf) == -1);
    CHECK(dcf_get_param("RUN_MODE", NULL, 10) == -1);
    CHECK(dcf_start(1, NULL) == -1 && dcf_get_errorno() == 26);
    CHECK(dcf_write(1, NULL, 10, 0, &idx) == -1);
    CHECK(dcf_universal_write(1, NULL, 10, 0, &idx) == -1);
    CHECK(dcf_read(1, 1, NULL, 10) == -1);
    CHECK(dcf_get_last_index(1, NULL) == -1);
    CHECK(dcf_get_cluster_min_applied_idx(1, NULL) == -1);
    CHECK(dcf_query_stream_info(1, NULL, 100) == 0);
    CHECK(dcf_query_cluster_info(NULL, 100) == 0);
    CHECK(dcf_query_statistics_info(NULL, 100) == -1);
    CHECK(dcf_query_leader_info(1, NULL, 64, &u, &u) == -1);
    CHECK(dcf_query_leader_info(1, buf, sizeof buf, NULL, &u) == -1);
    CHECK(dcf_node_is_healthy(1, NULL, &u) == -1);
    CHECK(dcf_get_current_term_and_role(1, NULL, &role) == -1);
    CHECK(dcf_check_if_all_logs_applied(1, NULL) == -1);
    CHECK(dcf_change_member(NULL, 100) == -1);
    CHECK(dcf_add_member(1, 4, NULL, 1234, DCF_ROLE_PASSIVE, 100) == -1);
    CHECK(dcf_send_msg(1, 2, NULL, 10) == -1);
    CHECK(dcf_broadcast_msg(1, NULL, 10) == -1);
    CHECK(dcf_get_data_commit_index(1, DCF_LOCAL_COMMIT_INDEX, NULL) == -1);
}

static void test_bad_enum_values(void)
{
    unsigned long long idx;
    CHECK(dcf_add_member(1, 4, "127.0.0.1", 1234, (dcf_role_t)99, 100) == -1);
    CHECK(dcf_change_member_role(1, 2, (dcf_role_t)-5, 100) == -1);
    CHECK(dcf_set_work_mode(1, (dcf_work_mode_t)7, 1) == -1);
    CHECK(dcf_get_data_commit_index(1, (dcf_commit_index_type_t)42, &idx) == -1);
    dcf_set_exception(1, (dcf_exception_t)9); /* ignored, must not crash */
    CHECK(dcf_get_errorno() != 0);
}

static void test_not_started(void)
{
    char buf[2048];
    unsigned long long idx = 0;
    unsigned int port = 0, id = 0;
    CHECK(dcf_write(1, "abc", 3, 1, &idx) == -1);
    CHECK(dcf_get_errorno() != 0);
    CHECK(dcf_get_last_index(1, &idx) == -1);
    CHECK(dcf_query_stream_info(1, buf, sizeof buf) == 0);
    CHECK(dcf_query_leader_info(1, buf, 64, &port, &id) == -1 || id == 0);
    CHECK(dcf_send_msg(1, 2, "x", 1) == -1);
    CHECK(dcf_stop() == 0); /* idempotent */
    /* cluster info before start is an empty document */
    CHECK(dcf_query_cluster_info(buf, sizeof buf) > 0 && strstr(buf, "\"stream_list\":[]") != NULL);
    CHECK(dcf_query_cluster_info(buf, 5) == 0);
    /* harmless before start */
    CHECK(dcf_set_election_priority(1, 12345) == 0);
    CHECK(dcf_set_applied_index(1, 100) == 0);
    CHECK(dcf_set_applied_index(0, 100) == -1);
    CHECK(dcf_set_applied_index(64, 100) == -1);
    CHECK(dcf_set_trace_key(~0ULL) == -1);
    CHECK(dcf_set_trace_key(5) == 0);
    dcf_set_timer(NULL);
    CHECK(dcf_query_statistics_info(buf, sizeof buf) > 0 && strstr(buf, "statistics_info") != NULL);
}

static void test_message_limits(void)
{
    static char big[512 * 1024 + 1];
    CHECK(dcf_send_msg(1, 0, "x", 1) == -1);
    CHECK(dcf_send_msg(1, 256, "x", 1) == -1);
    CHECK(dcf_send_msg(1, 2, big, sizeof big) == -1 && dcf_get_errorno() == 515);
    CHECK(dcf_broadcast_msg(1, big, sizeof big) == -1);
    CHECK(dcf_pause_rep(1, 2, 1000001) == -1);
}

static int cb_status(unsigned int s, dcf_role_t r) { (void)s; (void)r; return 0; }
static void cb_init(void) {}
static int cb_msg(unsigned int s, unsigned int src, const char *m, unsigned int n) { (void)s; (void)src; (void)m; (void)n; return 0; }
static void cb_log(int t, int l, const char *f, unsigned int line, const char *mod, const char *fmt, ...) { (void)t; (void)l; (void)f; (void)line; (void)mod; (void)fmt; }
static int cb_decrypt(const char *c, unsigned int cl, char *p, unsigned int pl) { (void)c; (void)cl; (void)p; (void)pl; return 0; }
static int cb_election(unsigned int s, unsigned int l) { (void)s; (void)l; return 0; }

static void test_register(void)
{
    CHECK(dcf_register_status_notify(cb_status) == 0);
    CHECK(dcf_register_thread_memctx_init(cb_init) == 0);
    CHECK(dcf_register_msg_proc(cb_msg) == 0);
    CHECK(dcf_register_log_output(cb_log) == 0);
    CHECK(dcf_register_decrypt_pwd(cb_decrypt) == 0);
    CHECK(dcf_register_election_notify(cb_election) == 0);
    /* NULL clears */
    CHECK(dcf_register_status_notify(NULL) == 0);
    CHECK(dcf_register_msg_proc(NULL) == 0);
    CHECK(dcf_register_log_output(NULL) == 0);
    CHECK(dcf_register_after_writer(NULL) == 0);
    CHECK(dcf_register_consensus_notify(NULL) == 0);
    CHECK(dcf_register_exception_report(NULL) == 0);
}

/* A printf-style log callback as DCC writes it: the library must pass a format and matching
 * arguments through the variadic call. */
static char g_logged[1024];
static int g_log_type = -1, g_log_level = -1;
static void cb_log_capture(int type, int level, const char *file, unsigned int line, const char *module,
                           const char *fmt, ...)
{
    (void)file;
    (void)line;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_logged, sizeof g_logged, fmt, ap);
    va_end(ap);
    g_log_type = type;
    g_log_level = level;
    if (strcmp(module, "DCF") != 0) g_logged[0] = 0;
}

static void test_log_output_callback(void)
{
    CHECK(dcf_register_log_output(cb_log_capture) == 0);
    g_logged[0] = 0;
    CHECK(dcf_set_param("NO_SUCH_PARAM_FOR_LOG", "1") == -1);
    CHECK(strstr(g_logged, "NO_SUCH_PARAM_FOR_LOG") != NULL);
    CHECK(g_log_type >= 0 && g_log_type <= 7 && g_log_level >= 0 && g_log_level <= 2);
    CHECK(dcf_register_log_output(NULL) == 0);
    g_logged[0] = 0;
    CHECK(dcf_set_param("NO_SUCH_PARAM_FOR_LOG", "1") == -1);
    CHECK(g_logged[0] == 0);
}

static void test_errors_and_version(void)
{
    const char *v = dcf_get_version();
    CHECK(v != NULL && strncmp(v, "DCF ", 4) == 0);
    CHECK(dcf_get_version() == v);
    CHECK(dcf_set_param("NO_SUCH_PARAM", "1") == -1);
    int code = dcf_get_errorno();
    const char *msg = dcf_get_error(code);
    CHECK(msg != NULL && strstr(msg, "NO_SUCH_PARAM") != NULL);
    /* As DCF: the thread's last message, whatever code is asked about. */
    CHECK(strcmp(dcf_get_error(26), msg) == 0);
    CHECK(strcmp(dcf_get_error(-12345), msg) == 0);
}

static void test_bad_cluster_json(void)
{
    CHECK(dcf_start(1, "not json") == -1);
    CHECK(dcf_get_errorno() != 0);
    CHECK(dcf_start(1, "[{\"stream_id\":1,\"node_id\":1,\"ip\":\"127.0.0.1\",\"port\":\"x\",\"role\":\"LEADER\"}]") == -1);
    CHECK(dcf_start(9, "[{\"stream_id\":1,\"node_id\":1,\"ip\":\"127.0.0.1\",\"port\":1,\"role\":\"LEADER\"}]") == -1);
    CHECK(dcf_change_member("[{\"stream_id\":1,\"node_id\":2}, {\"stream_id\":1,\"node_id\":3}]", 10) == -1);
}

int main(void)
{
    RUN(test_param_defaults);
    RUN(test_param_round_trip);
    RUN(test_param_values_are_copied);
    RUN(test_param_errors);
    RUN(test_params_from_threads);
    RUN(test_null_and_bad_pointers);
    RUN(test_bad_enum_values);
    RUN(test_not_started);
    RUN(test_message_limits);
    RUN(test_register);
    RUN(test_log_output_callback);
    RUN(test_errors_and_version);
    RUN(test_bad_cluster_json);
    DONE();
}
