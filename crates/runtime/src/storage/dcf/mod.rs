//! DCF's data directory (the layout the C library leaves in DATA_PATH): read to adopt it
//! on start (adopt.rs) and for `dcf-inspect`, written by the export back to it (export.rs).
//!
//! ```text
//! DATA_PATH/metadata/_dcf_metadata, _dcf_metadata.bak, _dcf_version   (metadata.rs)
//! DATA_PATH/streamNN/dcf_ctrl_01, dcf_ctrl_02                          (ctrl.rs)
//! DATA_PATH/streamNN/log_ctrl, log_<first>_<last>, log_inprogress_<first>  (log.rs)
//! ```
//!
//! Integers are little-endian (DCF writes them in the machine's order, and runs on
//! little-endian machines); every checksum is CRC32C. Terms are DCF's numbers, one above
//! ours (see `runtime::info`).

pub mod adopt;
pub mod ctrl;
pub mod export;
pub mod log;
pub mod metadata;

use std::path::{Path, PathBuf};

use super::error::StorageError;
use crate::types::StreamId;

/// DCF's stream directories (`streamNN`) under `data`, by stream id; none when `data`
/// does not exist.
pub fn stream_dirs(data: &Path) -> Result<Vec<(StreamId, PathBuf)>, StorageError> {
    if !data.exists() {
        return Ok(Vec::new());
    }
    super::inspect::numbered_dirs(data, "stream")
}

/// `data` holds DCF's layout: its stored membership, or a stream directory with DCF's
/// control or log files.
pub fn is_dcf_layout(data: &Path) -> Result<bool, StorageError> {
    let md = data.join(metadata::DIR);
    if md.join(metadata::MAIN).exists() || md.join(metadata::BACKUP).exists() {
        return Ok(true);
    }
    Ok(stream_dirs(data)?.iter().any(|(_, d)| {
        d.join(ctrl::CTRL_1).exists()
            || d.join(ctrl::CTRL_2).exists()
            || d.join(log::LOG_CTRL).exists()
    }))
}
