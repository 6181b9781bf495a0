//! The typed parameter snapshot (`Params`) and its text interface (`set` / `get`), which is
//! what `dcf_set_param` / `dcf_get_param` expose. The per-parameter rules live in `table/`.

use std::path::PathBuf;
use std::time::Duration;

use super::error::ParamError;
use super::secret::Secret;
use super::table::{self, ParamDef, Setter};
use super::values;
use crate::logging::LogConfig;

/// DCF's RUN_MODE (numeric on the wire, as DCF's verifier wants).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunMode {
    /// Elections happen automatically.
    Auto = 0,
    /// The configured LEADER becomes leader at start; no elections.
    Manual = 1,
    /// No elections at all.
    Disable = 2,
}

/// COMPRESS_ALGORITHM.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    None = 0,
    Zstd = 1,
    Lz4 = 2,
}

/// Every DCF parameter, typed, with set-side units converted (seconds and MB become
/// `Duration` and bytes). Cheap enough to clone: `snapshot()` hands out copies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Params {
    pub election_timeout: Duration,
    pub heartbeat_interval: Duration,
    pub auto_elc_priority_en: bool,
    pub election_switch_threshold: Duration,
    pub run_mode: RunMode,
    pub instance_name: String,
    /// Empty = not set; the runtime refuses to start without it (DCF wrote to "/metadata").
    pub data_path: PathBuf,
    /// Empty = use `data_path` (see [`Params::effective_log_path`]).
    pub log_path: PathBuf,
    /// LOG_LEVEL bit mask (`logging::bits`).
    pub log_level: u32,
    pub log_filename_format: u32,
    pub log_backup_file_count: u32,
    /// Bytes (set in MB).
    pub max_log_file_size: u64,
    /// Mode bits: 0o600 or 0o640.
    pub log_file_permission: u32,
    /// Mode bits: 0o700 or 0o750.
    pub log_path_permission: u32,
    pub log_suppress_enable: bool,
    pub mec_agent_thread_num: u32,
    pub mec_reactor_thread_num: u32,
    pub mec_channel_num: u32,
    /// Bytes (set in MB), like the other pool sizes below.
    pub mec_pool_max_size: u64,
    pub mem_pool_init_size: u64,
    pub mem_pool_max_size: u64,
    pub stg_pool_init_size: u64,
    pub stg_pool_max_size: u64,
    pub compress_algorithm: Compression,
    /// As set; see [`Params::effective_compress_level`].
    pub compress_level: u32,
    pub socket_timeout: Duration,
    pub connect_timeout: Duration,
    pub rep_append_thread_num: u32,
    /// Bytes (set in KB).
    pub mec_fragment_size: u64,
    pub mec_batch_size: u32,
    /// Percent.
    pub flow_control_cpu_threshold: u32,
    pub flow_control_net_queue_message_num_threshold: u32,
    pub flow_control_disk_rawait_threshold: Duration,
    /// Empty = not set. TLS is configured only when CA, KEY and CERT are all set.
    pub ssl_ca: PathBuf,
    pub ssl_key: PathBuf,
    pub ssl_cert: PathBuf,
    pub ssl_crl: PathBuf,
    pub ssl_cipher: String,
    /// The key passphrase; excluded from Debug output and from `get`.
    pub ssl_pwd_plaintext: Option<Secret>,
    /// Decrypted at start with the decrypt_pwd callback. Empty = not set.
    pub ssl_pwd_ciphertext: String,
    /// Days.
    pub ssl_cert_notify_time: u32,
    /// Bytes (set in MB): the log segment roll size.
    pub data_file_size: u64,
    /// Stored for openGauss, which reads them back; DCF itself never uses them.
    pub dn_flow_control_rto: u32,
    pub dn_flow_control_rpo: u32,
    /// Distinct group ids in the order given; empty = no group rule.
    pub majority_groups: Vec<u32>,
}

pub(crate) const MB: u64 = 1024 * 1024;

impl Default for Params {
    fn default() -> Params {
        Params {
            election_timeout: Duration::from_secs(3),
            heartbeat_interval: Duration::from_millis(1000),
            auto_elc_priority_en: true,
            election_switch_threshold: Duration::ZERO,
            run_mode: RunMode::Auto,
            instance_name: String::new(),
            data_path: PathBuf::new(),
            log_path: PathBuf::new(),
            log_level: crate::logging::bits::DEFAULT,
            log_filename_format: 0,
            log_backup_file_count: 10,
            max_log_file_size: 10 * MB,
            log_file_permission: 0o600,
            log_path_permission: 0o700,
            log_suppress_enable: false,
            mec_agent_thread_num: 10,
            mec_reactor_thread_num: 1,
            mec_channel_num: 1,
            mec_pool_max_size: 100 * MB,
            mem_pool_init_size: 32 * MB,
            mem_pool_max_size: 256 * MB,
            stg_pool_init_size: 32 * MB,
            stg_pool_max_size: 200 * MB,
            compress_algorithm: Compression::None,
            compress_level: 1,
            socket_timeout: Duration::from_millis(5000),
            connect_timeout: Duration::from_millis(60000),
            rep_append_thread_num: 2,
            mec_fragment_size: 64 * 1024,
            mec_batch_size: 0,
            flow_control_cpu_threshold: 100,
            flow_control_net_queue_message_num_threshold: 1024,
            flow_control_disk_rawait_threshold: Duration::from_micros(100_000),
            ssl_ca: PathBuf::new(),
            ssl_key: PathBuf::new(),
            ssl_cert: PathBuf::new(),
            ssl_crl: PathBuf::new(),
            ssl_cipher: String::new(),
            ssl_pwd_plaintext: None,
            ssl_pwd_ciphertext: String::new(),
            ssl_cert_notify_time: 30,
            data_file_size: 500 * MB,
            dn_flow_control_rto: 0,
            dn_flow_control_rpo: 0,
            majority_groups: Vec::new(),
        }
    }
}

impl Params {
    /// Sets one parameter from its text form, as `dcf_set_param` does. Names are
    /// case-sensitive. On error nothing changes.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), ParamError> {
        let def = table::lookup(name)?;
        match def.setter {
            Setter::Number { min, max, apply } => {
                let n = values::number_in(def.name, value, min, max)?;
                apply(self, n)
            }
            Setter::OneOf {
                allowed,
                text,
                apply,
            } => {
                let n = values::one_of(def.name, value, allowed, text)?;
                apply(self, n);
                Ok(())
            }
            Setter::Text { max_len, apply } => {
                values::check_len(def.name, value, max_len)?;
                apply(self, value)
            }
            Setter::LogLevel => {
                self.log_level = values::log_level_mask(def.name, value)?;
                Ok(())
            }
            Setter::Groups => {
                self.majority_groups = values::group_list(def.name, value)?;
                Ok(())
            }
            Setter::Secret { max_len } => {
                values::check_len(def.name, value, max_len)?;
                if !self.ssl_pwd_ciphertext.is_empty() {
                    return Err(ParamError::Conflict {
                        name: def.name,
                        other: "SSL_PWD_CIPHERTEXT",
                    });
                }
                // Replacing drops the old copy, which zeroes it.
                self.ssl_pwd_plaintext = Some(Secret::new(value.as_bytes()));
                Ok(())
            }
        }
    }

    /// The text `dcf_get_param` returns (DCF's get units: ms for timeouts, bytes for sizes).
    pub fn get(&self, name: &str) -> Result<String, ParamError> {
        let def = table::lookup(name)?;
        (def.render)(self).ok_or(ParamError::WriteOnly { name: def.name })
    }

    /// Where log files go: LOG_PATH, else DATA_PATH, else nowhere.
    pub fn effective_log_path(&self) -> Option<PathBuf> {
        [&self.log_path, &self.data_path]
            .into_iter()
            .find(|p| !p.as_os_str().is_empty())
            .cloned()
    }

    /// The logger's settings; config depends on logging, never the reverse.
    pub fn log_config(&self) -> LogConfig {
        LogConfig {
            path: self.effective_log_path(),
            level_mask: self.log_level,
            file_permission: self.log_file_permission,
            path_permission: self.log_path_permission,
            max_file_size: self.max_log_file_size,
            backup_count: self.log_backup_file_count,
            instance_name: self.instance_name.clone(),
        }
    }

    /// COMPRESS_LEVEL as used: LZ4 accepts at most 9. DCF clamped only when LZ4 was set
    /// before the level; here the order does not matter.
    pub fn effective_compress_level(&self) -> u32 {
        match self.compress_algorithm {
            Compression::Lz4 => self.compress_level.min(9),
            _ => self.compress_level,
        }
    }

    /// SSL is on only if CA, KEY and CERT are all set (DCF's rule).
    pub fn ssl_enabled(&self) -> bool {
        [&self.ssl_ca, &self.ssl_key, &self.ssl_cert]
            .iter()
            .all(|p| !p.as_os_str().is_empty())
    }

    /// The largest `dcf_write` payload DCF accepts: a quarter of MEM_POOL_MAX_SIZE.
    pub fn max_write_size(&self) -> u64 {
        self.mem_pool_max_size / 4
    }
}

/// The definition of a parameter, for documentation and for callers that want to know
/// its units and default.
pub fn param_def(name: &str) -> Option<&'static ParamDef> {
    table::lookup(name).ok()
}

/// Every parameter, in the order of SPEC Part C §2.
pub fn param_defs() -> Vec<&'static ParamDef> {
    table::all().collect()
}
