//! The runtime of libdcf: the durable log (`storage`), QUIC between nodes (`transport`),
//! parameters and the cluster document (`config`), the JSON queries (`query`), the log
//! files (`logging`), the node's threads (`runtime`) and the safe Rust API (`api`). It
//! drives the consensus core of `dcf-core`, re-exported here as `consensus` and `types`.
//! The C interface is the root package's; no code here is `unsafe`.

#![forbid(unsafe_code)]

pub use dcf_core::{consensus, encoding, types};

pub mod api;
pub mod config;
pub mod error;
pub mod host;
pub mod logging;
pub mod query;
pub mod runtime;
pub mod storage;
pub mod transport;
