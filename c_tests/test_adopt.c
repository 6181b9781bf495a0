/* dcf_start on a data directory the original DCF library left (a copy of a test fixture):
 * a damaged copy is refused with the file and offset in dcf_get_error and nothing of ours
 * is written; an intact copy is adopted and holds DCF's log (121..304, term 4).
 * Usage: test_adopt FIXTURE_DIR WORK_DIR (WORK_DIR is created afresh). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dcf_interface.h"
#include "harness.h"

static const char *g_fixture;
static const char *g_work;

/* The stored membership is DCF's (ports 17311..17313); the start string only names the
 * stream and this node. */
static const char *CFG =
    "[{\"stream_id\":1,\"node_id\":1,\"ip\":\"127.0.0.1\",\"port\":17311,\"role\":\"LEADER\"},"
    "{\"stream_id\":1,\"node_id\":2,\"ip\":\"127.0.0.1\",\"port\":17312,\"role\":\"FOLLOWER\"},"
    "{\"stream_id\":1,\"node_id\":3,\"ip\":\"127.0.0.1\",\"port\":17313,\"role\":\"FOLLOWER\"}]";

static void copy_fixture(const char *to)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -r '%s' '%s'", to, g_fixture, to);
    CHECK(system(cmd) == 0);
}

static int exists(const char *dir, const char *name)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return access(p, F_OK) == 0;
}

static void set_paths(const char *data)
{
    char log[1024];
    snprintf(log, sizeof log, "%s/log", g_work);
    CHECK(dcf_set_param("DATA_PATH", data) == 0);
    CHECK(dcf_set_param("LOG_PATH", log) == 0);
}

static void test_damage_is_refused_with_file_and_offset(void)
{
    char dir[1024], seg[1200];
    snprintf(dir, sizeof dir, "%s/damaged", g_work);
    copy_fixture(dir);
    snprintf(seg, sizeof seg, "%s/stream01/log_00000000000000000185_00000000000000000263", dir);
    FILE *f = fopen(seg, "r+b");
    CHECK(f != NULL);
    if (f == NULL) {
        return;
    }
    CHECK(fseek(f, 5000, SEEK_SET) == 0);
    int c = fgetc(f);
    CHECK(fseek(f, 5000, SEEK_SET) == 0);
    CHECK(fputc(c ^ 0x5A, f) != EOF);
    fclose(f);
    set_paths(dir);
    CHECK(dcf_start(1, CFG) == -1);
    const char *e = dcf_get_error(dcf_get_errorno());
    printf("  dcf_get_error: %s\n", e);
    CHECK(strstr(e, "log_00000000000000000185_00000000000000000263") != NULL);
    CHECK(strstr(e, "at offset 3689") != NULL);
    CHECK(!exists(dir, "stream_01") && !exists(dir, "adopt.tmp"));
    CHECK(!exists(dir, "ADOPTED_FROM_DCF") && !exists(dir, "LOCK"));
}

static void test_intact_copy_is_adopted(void)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/intact", g_work);
    copy_fixture(dir);
    set_paths(dir);
    CHECK(dcf_start(1, CFG) == 0);
    unsigned long long last = 0;
    CHECK(dcf_get_node_last_disk_index(1, 1, &last) == 0);
    CHECK(last == 304);
    unsigned long long term = 0;
    dcf_role_t role;
    CHECK(dcf_get_current_term_and_role(1, &term, &role) == 0);
    CHECK(term >= 4);
    CHECK(dcf_stop() == 0);
    CHECK(exists(dir, "ADOPTED_FROM_DCF") && exists(dir, "stream_01"));
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s FIXTURE_DIR WORK_DIR\n", argv[0]);
        return 2;
    }
    g_fixture = argv[1];
    g_work = argv[2];
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", g_work, g_work);
    if (system(cmd) != 0) {
        return 2;
    }
    RUN(test_damage_is_refused_with_file_and_offset);
    RUN(test_intact_copy_is_adopted);
    DONE();
}
