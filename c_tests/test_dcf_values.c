/* The values DCF itself gives, call by call, where a host or a tool may depend on them:
 * dcf_get_error ignores its code, failures carry DCF's error numbers, nothing is written to
 * the host's stderr, and a fresh node's documents show DCF's term and is_in_major.
 * Usage: test_dcf_values <scratch directory> */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dcf_interface.h"
#include "harness.h"

static char g_dir[400];

static const char *last_error(void)
{
    return dcf_get_error(dcf_get_errorno());
}

static void test_get_error_ignores_the_code(void)
{
    CHECK(dcf_set_param("NO_SUCH_PARAM", "1") == -1);
    CHECK(dcf_get_errorno() == 201);
    const char *msg = dcf_get_error(201);
    CHECK(strstr(msg, "NO_SUCH_PARAM") != NULL);
    /* Any code, even one never set or none at all, gives the thread's last message. */
    CHECK(strcmp(dcf_get_error(0), msg) == 0);
    CHECK(strcmp(dcf_get_error(26), msg) == 0);
    CHECK(strcmp(dcf_get_error(-12345), msg) == 0);
    /* A successful call clears it. */
    CHECK(dcf_set_param("RUN_MODE", "0") == 0);
    CHECK(dcf_get_errorno() == 0);
    CHECK(strcmp(dcf_get_error(201), "") == 0);
}

static void test_codes_before_start(void)
{
    char buf[2048];
    unsigned long long idx = 0;
    CHECK(dcf_query_stream_info(1, buf, sizeof buf) == 0);
    CHECK(dcf_get_errorno() == 801);
    CHECK(strcmp(last_error(), "Failed to query dcf info, check_if_node_inited failed, errno=-1") == 0);
    CHECK(dcf_query_cluster_info(NULL, 16) == 0 && dcf_get_errorno() == 26);
    CHECK(dcf_query_cluster_info(buf, 0) == 0 && dcf_get_errorno() == 26);
    CHECK(dcf_query_cluster_info(buf, 5) == 0 && dcf_get_errorno() == 801);
    unsigned int port = 0, id = 0;
    CHECK(dcf_query_leader_info(1, buf, 64, &port, &id) == -1 && dcf_get_errorno() == 801);
    int n = dcf_query_cluster_info(buf, sizeof buf);
    CHECK(n > 0 && strcmp(buf, "{\"local_node_id\":0,\"stream_list\":[]}") == 0);
    CHECK(n == (int)strlen(buf) + 1);
    CHECK(dcf_set_param(NULL, "1") == -1 && dcf_get_errorno() == 26);
    /* A number beyond 32 bits fails DCF's number parser (107) before its range check (201). */
    CHECK(dcf_set_param("ELECTION_TIMEOUT", "4294967296") == -1 && dcf_get_errorno() == 107);
    CHECK(dcf_set_param("ELECTION_TIMEOUT", "601") == -1 && dcf_get_errorno() == 201);
    CHECK(dcf_start(1, NULL) == -1 && dcf_get_errorno() == 26);
    CHECK(dcf_start(1, "not json") == -1 && dcf_get_errorno() == 800);
    /* DCF sets no code when not started; ours is 1001 (README, "Differences from DCF"). */
    CHECK(dcf_write(1, "x", 1, 0, &idx) == -1 && dcf_get_errorno() == 1001);
}

static int file_contains(const char *path, const char *needle, int *has_source_path)
{
    static char text[1 << 16];
    FILE *f = fopen(path, "r");
    if (f == NULL) return 0;
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = 0;
    *has_source_path = strstr(text, ".rs:") != NULL;
    return strstr(text, needle) != NULL;
}

/* Node 1 of a three-node stream whose peers never start: it cannot be elected. */
static void test_fresh_node(void)
{
    char path[512];
    char cfg[512];
    char buf[2048];
    unsigned long long term = 0;
    unsigned long long idx = 0;
    dcf_role_t role = DCF_ROLE_CEIL;
    int port = 30000 + (int)(getpid() % 20000);

    snprintf(path, sizeof path, "%s/log", g_dir);
    CHECK(dcf_set_param("LOG_PATH", path) == 0);
    /* Other tests may run beside this one: a port in use (506) moves on to another (and a
     * new data directory, since the first start records the membership). */
    int started = -1;
    for (int attempt = 0; attempt < 5 && started != 0; attempt++, port += 3) {
        snprintf(path, sizeof path, "%s/data%d", g_dir, attempt);
        CHECK(dcf_set_param("DATA_PATH", path) == 0);
        snprintf(cfg, sizeof cfg,
                 "[{\"stream_id\":1,\"node_id\":1,\"ip\":\"127.0.0.1\",\"port\":%d,\"role\":\"FOLLOWER\"},"
                 "{\"stream_id\":1,\"node_id\":2,\"ip\":\"127.0.0.1\",\"port\":%d,\"role\":\"FOLLOWER\"},"
                 "{\"stream_id\":1,\"node_id\":3,\"ip\":\"127.0.0.1\",\"port\":%d,\"role\":\"FOLLOWER\"}]",
                 port, port + 1, port + 2);
        started = dcf_start(1, cfg);
        if (started != 0 && dcf_get_errorno() != 506) break;
    }
    CHECK(started == 0);

    /* DCF numbers a fresh node's term 1, and it is not in a majority until it hears one. */
    int n = dcf_query_stream_info(1, buf, sizeof buf);
    CHECK(n > 0);
    CHECK(strstr(buf, "\"term\":1,") != NULL);
    CHECK(strstr(buf, "\"is_in_major\":0,") != NULL);
    CHECK(dcf_get_current_term_and_role(1, &term, &role) == 0 && term == 1);
    CHECK(dcf_query_cluster_info(buf, sizeof buf) > 0 && strstr(buf, "\"term\":1,") != NULL);
    sleep(1); /* a failed pre-vote does not change the term */
    CHECK(dcf_get_current_term_and_role(1, &term, &role) == 0 && term == 1);

    CHECK(dcf_write(1, "x", 1, 0, &idx) == -1 && dcf_get_errorno() == 603);
    unsigned int lport = 1, lid = 7;
    CHECK(dcf_query_leader_info(1, NULL, 64, &lport, &lid) == -1 && dcf_get_errorno() == 26);
    CHECK(dcf_query_leader_info(1, buf, 64, &lport, &lid) == 0 && lport == 0 && buf[0] == 0);
    CHECK(dcf_query_stream_info(1, buf, 10) == 0 && dcf_get_errorno() == 801);
    CHECK(dcf_query_stream_info(2, buf, sizeof buf) == 0 && dcf_get_errorno() == 801);

    /* A failed dcf_set_param goes to the OPER log, without the library's source paths. */
    int has_source_path = 1;
    CHECK(dcf_set_param("NO_SUCH_PARAM_WHILE_RUNNING", "1") == -1);
    snprintf(path, sizeof path, "%s/log/oper/oper.log", g_dir);
    CHECK(file_contains(path, "NO_SUCH_PARAM_WHILE_RUNNING", &has_source_path));
    CHECK(!has_source_path);
    CHECK(dcf_stop() == 0);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s <scratch directory>\n", argv[0]);
        return 2;
    }
    snprintf(g_dir, sizeof g_dir, "%s", argv[1]);
    mkdir(g_dir, 0700);

    /* Everything the library might print to stderr lands in this file, which must stay empty.
     * (A failing CHECK also writes there; it is shown below.) */
    char capture[512];
    snprintf(capture, sizeof capture, "%s/stderr.txt", g_dir);
    fflush(stderr);
    int saved = dup(2);
    int fd = open(capture, O_CREAT | O_TRUNC | O_WRONLY, 0600);
    if (saved < 0 || fd < 0 || dup2(fd, 2) < 0) {
        perror("capturing stderr");
        return 2;
    }
    close(fd);

    RUN(test_get_error_ignores_the_code);
    RUN(test_codes_before_start);
    RUN(test_fresh_node);

    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    struct stat st;
    CHECK(stat(capture, &st) == 0 && st.st_size == 0);
    if (st.st_size != 0) {
        char line[512];
        FILE *f = fopen(capture, "r");
        fprintf(stderr, "output on stderr:\n");
        while (f != NULL && fgets(line, sizeof line, f) != NULL) fputs(line, stderr);
        if (f != NULL) fclose(f);
    }
    DONE();
}
