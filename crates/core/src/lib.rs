//! The consensus core of libdcf: a sans-I/O replica (`consensus`) and the types every
//! layer shares (`types`). It performs no I/O, reads no clock (time is a parameter) and
//! starts no thread; the runtime crate drives it.

#![forbid(unsafe_code)]

pub mod consensus;
pub mod types;
