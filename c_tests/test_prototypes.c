/* Code written against DCF's header declares the interface with its own prototypes; they must
 * agree with ours, as C and as C++ (openGauss includes the header from C++ inside extern "C"). */
#ifdef __cplusplus
extern "C" {
#endif
#include "dcf_interface.h"

int dcf_set_param(const char *param_name, const char *param_value);
int dcf_get_param(const char *param_name, char *param_value, unsigned int size);
int dcf_register_after_writer(usr_cb_after_writer_t cb_func);
int dcf_register_consensus_notify(usr_cb_consensus_notify_t cb_func);
int dcf_register_status_notify(usr_cb_status_notify_t cb_func);
int dcf_register_log_output(usr_cb_log_output_t cb_func);
int dcf_register_exception_report(usr_cb_exception_notify_t cb_func);
int dcf_register_election_notify(usr_cb_election_notify_t cb_func);
int dcf_register_msg_proc(usr_cb_msg_proc_t cb_func);
int dcf_register_thread_memctx_init(usr_cb_thread_memctx_init_t cb_func);
int dcf_register_decrypt_pwd(usr_cb_decrypt_pwd_t cb_func);
int dcf_start(unsigned int node_id, const char *cfg_str);
int dcf_write(unsigned int stream_id, const char* buffer, unsigned int length, unsigned long long key, unsigned long long *index);
int dcf_universal_write(unsigned int stream_id, const char* buffer, unsigned int length, unsigned long long key, unsigned long long *index);
int dcf_read(unsigned int stream_id, unsigned long long index, char *buffer, unsigned int length);
int dcf_stop(void);
int dcf_truncate(unsigned int stream_id, unsigned long long first_index_kept);
int dcf_set_applied_index(unsigned int stream_id, unsigned long long index);
int dcf_get_cluster_min_applied_idx(unsigned int stream_id, unsigned long long* index);
int dcf_get_leader_last_index(unsigned int stream_id, unsigned long long* index);
int dcf_get_last_index(unsigned int stream_id, unsigned long long* index);
int dcf_query_cluster_info(char* buffer, unsigned int length);
int dcf_query_stream_info(unsigned int stream_id, char *buffer, unsigned int length);
int dcf_query_leader_info(unsigned int stream_id, char *ip, unsigned int ip_len, unsigned int *port, unsigned int *node_id);
int dcf_is_diff_endian(unsigned int stream_id, unsigned int dest_node_id);
int dcf_get_errorno(void);
const char* dcf_get_error(int code);
const char *dcf_get_version(void);
int dcf_get_node_last_disk_index(unsigned int stream_id, unsigned int node_id, unsigned long long* index);
int dcf_add_member(unsigned int stream_id, unsigned int node_id, const char *ip, unsigned int port, dcf_role_t role, unsigned int wait_timeout_ms);
int dcf_remove_member(unsigned int stream_id, unsigned int node_id, unsigned int wait_timeout_ms);
int dcf_change_member_role(unsigned int stream_id, unsigned int node_id, dcf_role_t new_role, unsigned int wait_timeout_ms);
int dcf_change_member(const char *change_str, unsigned int wait_timeout_ms);
int dcf_promote_leader(unsigned int stream_id, unsigned int node_id, unsigned int wait_timeout_ms);
int dcf_timeout_notify(unsigned int node_id);
int dcf_node_is_healthy(unsigned int stream_id, dcf_role_t* node_role, unsigned int* is_healthy);
int dcf_set_work_mode(unsigned int stream_id, dcf_work_mode_t work_mode, unsigned int vote_num);
int dcf_query_statistics_info(char *buffer, unsigned int length);
int dcf_check_if_all_logs_applied(unsigned int stream_id, unsigned int *all_applied);
int dcf_set_trace_key(unsigned long long trace_key);
void dcf_set_exception(unsigned int stream_id, dcf_exception_t exception);
int dcf_send_msg(unsigned int stream_id, unsigned int dest_node_id, const char* msg, unsigned int msg_size);
int dcf_broadcast_msg(unsigned int stream_id, const char* msg, unsigned int msg_size);
int dcf_pause_rep(unsigned int stream_id, unsigned int node_id, unsigned int time_us);
int dcf_demote_follower(unsigned int stream_id);
int dcf_get_data_commit_index(unsigned int stream_id, dcf_commit_index_type_t index_type, unsigned long long* index);
int dcf_get_current_term_and_role(unsigned int stream_id, unsigned long long* term, dcf_role_t* role);
int dcf_set_election_priority(unsigned int stream_id, unsigned long long priority);
void dcf_set_timer(void *timer);
int dcf_get_conn_status(unsigned int stream_id, unsigned int dest_node_id);
#ifdef __cplusplus
}
#endif

#include <stdio.h>

/* Callbacks with DCF's signatures, as openGauss and DCC define them. */
static int cb_after_writer(unsigned int s, unsigned long long i, const char *b, unsigned int n,
                           unsigned long long k, int e) { (void)s; (void)i; (void)b; (void)n; (void)k; return e; }
static int cb_notify(unsigned int s, unsigned long long i, const char *b, unsigned int n,
                     unsigned long long k) { (void)s; (void)i; (void)b; (void)n; (void)k; return 0; }
static int cb_status(unsigned int s, dcf_role_t r) { (void)s; return r == DCF_ROLE_LEADER; }
static int cb_exception(unsigned int s, dcf_exception_t e) { (void)s; return e == DCF_EXCEPTION_MISSING_LOG; }

typedef void (*any_fn)(void);

int main(void)
{
    /* Taking every address forces the link against libdcf.so. */
    void *fns[] = {
        (void *)dcf_set_param, (void *)dcf_get_param, (void *)dcf_register_after_writer,
        (void *)dcf_register_consensus_notify, (void *)dcf_register_status_notify,
        (void *)dcf_register_log_output, (void *)dcf_register_exception_report,
        (void *)dcf_register_election_notify, (void *)dcf_register_msg_proc,
        (void *)dcf_register_thread_memctx_init, (void *)dcf_register_decrypt_pwd, (void *)dcf_start,
        (void *)dcf_write, (void *)dcf_universal_write, (void *)dcf_read, (void *)dcf_stop,
        (void *)dcf_truncate, (void *)dcf_set_applied_index, (void *)dcf_get_cluster_min_applied_idx,
        (void *)dcf_get_leader_last_index, (void *)dcf_get_last_index, (void *)dcf_query_cluster_info,
        (void *)dcf_query_stream_info, (void *)dcf_query_leader_info, (void *)dcf_is_diff_endian,
        (void *)dcf_get_errorno, (void *)dcf_get_error, (void *)dcf_get_version,
        (void *)dcf_get_node_last_disk_index, (void *)dcf_add_member, (void *)dcf_remove_member,
        (void *)dcf_change_member_role, (void *)dcf_change_member, (void *)dcf_promote_leader,
        (void *)dcf_timeout_notify, (void *)dcf_node_is_healthy, (void *)dcf_set_work_mode,
        (void *)dcf_query_statistics_info, (void *)dcf_check_if_all_logs_applied,
        (void *)dcf_set_trace_key, (void *)dcf_set_exception, (void *)dcf_send_msg,
        (void *)dcf_broadcast_msg, (void *)dcf_pause_rep, (void *)dcf_demote_follower,
        (void *)dcf_get_data_commit_index, (void *)dcf_get_current_term_and_role,
        (void *)dcf_set_election_priority, (void *)dcf_set_timer, (void *)dcf_get_conn_status,
    };
    int failed = 0;
    unsigned i;
    for (i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
        if (fns[i] == NULL) failed++;
    }
    if (sizeof(fns) / sizeof(fns[0]) != 50) failed++;
    usr_cb_after_writer_t aw = cb_after_writer;
    usr_cb_consensus_notify_t cn = cb_notify;
    usr_cb_status_notify_t sn = cb_status;
    usr_cb_exception_notify_t en = cb_exception;
    if (dcf_register_after_writer(aw) != 0) failed++;
    if (dcf_register_consensus_notify(cn) != 0) failed++;
    if (dcf_register_status_notify(sn) != 0) failed++;
    if (dcf_register_exception_report(en) != 0) failed++;
    /* Enumerator values are part of the ABI. */
    if (DCF_ROLE_UNKNOWN != 0 || DCF_ROLE_LEADER != 1 || DCF_ROLE_FOLLOWER != 2 || DCF_ROLE_LOGGER != 3 ||
        DCF_ROLE_PASSIVE != 4 || DCF_ROLE_PRE_CANDIDATE != 5 || DCF_ROLE_CANDIDATE != 6 || DCF_ROLE_CEIL != 7)
        failed++;
    if (DCF_RUNNING_NORMAL != 0 || DCF_EXCEPTION_MISSING_LOG != 1 || DCF_EXCEPTION_CEIL != 2) failed++;
    if (DCF_INDEX_UNKNOWN != 0 || DCF_LOCAL_COMMIT_INDEX != 1 || DCF_LEADER_COMMIT_INDEX != 2 ||
        DCF_CONSENSUS_COMMIT_INDEX != 3 || DCF_INDEX_LEVEL_CEIL != 4)
        failed++;
    if (WM_NORMAL != 0 || WM_MINORITY != 1 || WM_CEIL != 2) failed++;
    if (sizeof(dcf_role_t) != sizeof(int)) failed++;
    printf("%s prototypes: %d passed, %d failed\n",
#ifdef __cplusplus
           "C++",
#else
           "C",
#endif
           failed ? 0 : 1, failed);
    return failed ? 1 : 0;
}
