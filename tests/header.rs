//! The committed header must be exactly what cbindgen generates from the sources.
//! `DCF_BLESS_HEADER=1 cargo test --test header` (or `make header`) rewrites it.

use std::path::Path;

fn generate() -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(root.join("cbindgen.toml")).expect("cbindgen.toml");
    let mut out = Vec::new();
    cbindgen::Builder::new()
        .with_crate(root)
        .with_config(config)
        .generate()
        .expect("cbindgen failed")
        .write(&mut out);
    String::from_utf8(out).expect("header is UTF-8")
}

#[test]
fn committed_header_is_fresh() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("include/dcf_interface.h");
    let fresh = generate();
    if std::env::var_os("DCF_BLESS_HEADER").is_some() {
        std::fs::write(&path, &fresh).expect("write header");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == fresh,
        "include/dcf_interface.h is stale: run `make header` and commit it"
    );
}

#[test]
fn header_declares_the_whole_interface() {
    let h = generate();
    for name in [
        "dcf_set_param",
        "dcf_get_param",
        "dcf_register_after_writer",
        "dcf_register_consensus_notify",
        "dcf_register_status_notify",
        "dcf_register_log_output",
        "dcf_register_exception_report",
        "dcf_register_election_notify",
        "dcf_register_msg_proc",
        "dcf_register_thread_memctx_init",
        "dcf_register_decrypt_pwd",
        "dcf_start",
        "dcf_write",
        "dcf_universal_write",
        "dcf_read",
        "dcf_stop",
        "dcf_truncate",
        "dcf_set_applied_index",
        "dcf_get_cluster_min_applied_idx",
        "dcf_get_leader_last_index",
        "dcf_get_last_index",
        "dcf_query_cluster_info",
        "dcf_query_stream_info",
        "dcf_query_leader_info",
        "dcf_is_diff_endian",
        "dcf_get_errorno",
        "dcf_get_error",
        "dcf_get_version",
        "dcf_get_node_last_disk_index",
        "dcf_add_member",
        "dcf_remove_member",
        "dcf_change_member_role",
        "dcf_change_member",
        "dcf_promote_leader",
        "dcf_timeout_notify",
        "dcf_node_is_healthy",
        "dcf_set_work_mode",
        "dcf_query_statistics_info",
        "dcf_check_if_all_logs_applied",
        "dcf_set_trace_key",
        "dcf_set_exception",
        "dcf_send_msg",
        "dcf_broadcast_msg",
        "dcf_pause_rep",
        "dcf_demote_follower",
        "dcf_get_data_commit_index",
        "dcf_get_current_term_and_role",
        "dcf_set_election_priority",
        "dcf_set_timer",
        "dcf_get_conn_status",
    ] {
        assert!(
            h.contains(&format!("{name}(")),
            "{name} missing from the header"
        );
    }
    assert!(
        !h.contains("#define MAX"),
        "internal constants leaked into the header"
    );
}

/// C code written against DCF names the enum tags and macros of its header; they must be ours
/// too (c_tests/test_header_names.c compiles code using each of them as C and as C++).
#[test]
fn header_spells_dcf_tags_and_macros() {
    let h = generate();
    for line in [
        "enum en_dcf_role {",
        "typedef enum en_dcf_role dcf_role_t;",
        "enum en_dcf_exception {",
        "typedef enum en_dcf_exception dcf_exception_t;",
        "enum en_dcf_commit_index_type {",
        "typedef enum en_dcf_commit_index_type dcf_commit_index_type_t;",
        "enum e_dcf_work_mode {",
        "typedef enum e_dcf_work_mode dcf_work_mode_t;",
        "#define EXPORT_API __declspec(dllexport)",
        "#define EXPORT_API __attribute__ ((visibility (\"default\")))",
        "#define DCF_MAX_PAUSE_TIME              ((unsigned int)(-1))",
        "#define DCF_MIN_PAUSE_TIME              0",
        "#define DCF_MAX_NORMAL_USE_PAUSE_TIME   1000000U",
        "EXPORT_API int dcf_start(",
    ] {
        assert!(h.contains(line), "header lacks `{line}`");
    }
    // Every one of the 50 functions carries EXPORT_API, as in DCF's header; three more
    // mentions are the macro's own definition.
    assert_eq!(h.matches("EXPORT_API").count(), 50 + 3);
}
