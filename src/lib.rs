//! libdcf: a Rust replacement for openGauss's Distributed Consensus Framework.
//!
//! Layers (DESIGN.md): `ffi` (C ABI) → `api` (safe Rust) → `runtime` (threads, wiring)
//! → `consensus` (sans-IO replica), `storage` (durable log), `transport` (QUIC).

pub mod api;
pub mod config;
pub mod consensus;
pub mod error;
pub mod ffi;
pub mod logging;
pub mod query;
pub mod runtime;
pub mod storage;
pub mod transport;
pub mod types;
