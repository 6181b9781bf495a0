//! Configuration: the DCF parameter table (`dcf_set_param` / `dcf_get_param`) and the cluster
//! JSON parsers (`dcf_start`, `dcf_change_member`). See DESIGN.md, module `config`.
//!
//! The process-global store mirrors DCF (parameters are set before start, from any thread,
//! and survive stop/start). Code that runs several nodes in one process, and tests, use
//! [`Params`] values directly.

mod cluster;
mod error;
mod params;
mod secret;
mod table;
mod values;

use std::sync::LazyLock;

use parking_lot::RwLock;

pub use cluster::{parse_change_member, parse_cluster, ClusterError, MemberChange, MemberConfig};
pub use error::ParamError;
pub use params::{param_def, param_defs, Compression, Params, RunMode};
pub use secret::Secret;
pub use table::ParamDef;

use crate::logging::{self, LogLevel, LogType};

static STORE: LazyLock<RwLock<Params>> = LazyLock::new(|| RwLock::new(Params::default()));

/// `dcf_set_param`: validates and stores one parameter in the global store. LOG_LEVEL,
/// MAX_LOG_FILE_SIZE and LOG_BACKUP_FILE_COUNT take effect on the logger at once, as in DCF.
pub fn set_param(name: &str, value: &str) -> Result<(), ParamError> {
    let logged_value = if name == "SSL_PWD_PLAINTEXT" {
        "***"
    } else {
        value
    };
    let result = STORE.write().set(name, value);
    match &result {
        Ok(()) => {
            crate::dcf_log!(
                LogType::Oper,
                LogLevel::Info,
                "set parameter {name} = {logged_value:?}"
            );
            apply_live(name);
        }
        Err(e) => crate::dcf_log!(LogType::Oper, LogLevel::Error, "set parameter failed: {e}"),
    }
    result
}

fn apply_live(name: &str) {
    match name {
        "LOG_LEVEL" => logging::set_level_mask(STORE.read().log_level),
        "MAX_LOG_FILE_SIZE" | "LOG_BACKUP_FILE_COUNT" => {
            let (size, count) = {
                let p = STORE.read();
                (p.max_log_file_size, p.log_backup_file_count)
            };
            logging::set_rotation(size, count);
        }
        _ => {}
    }
}

/// `dcf_get_param`: the text form of one parameter (DCF's get units).
pub fn get_param(name: &str) -> Result<String, ParamError> {
    STORE.read().get(name)
}

/// A copy of every parameter, for `dcf_start` and for live readers.
pub fn snapshot() -> Params {
    STORE.read().clone()
}

/// `dcf_start` used SSL_PWD_PLAINTEXT: it is dropped (its memory overwritten) so that the
/// password does not stay in the process for the node's lifetime.
pub fn forget_key_password() {
    STORE.write().ssl_pwd_plaintext = None;
}

/// Puts every parameter back to its default (tests; DCF itself never resets them).
pub fn reset() {
    *STORE.write() = Params::default();
}

#[cfg(test)]
mod params_tests;
