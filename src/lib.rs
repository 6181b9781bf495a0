//! libdcf: a Rust replacement for openGauss's Distributed Consensus Framework.
//!
//! This crate is the C interface (`ffi`), the only code with `unsafe`. Below it (see
//! docs/ARCHITECTURE.md): `dcf-runtime` (storage, transport, configuration, queries,
//! logging, threads, the safe Rust API) and `dcf-core` (the sans-I/O consensus replica
//! and shared types). Their modules are re-exported here under the names the tests and
//! Rust users know (`dcf::api`, `dcf::storage`, ...).

pub use dcf_runtime::{
    api, config, consensus, dcf_debug, dcf_error, dcf_info, dcf_log, dcf_warn, error, logging,
    query, runtime, storage, transport, types,
};

pub mod ffi;
