//! The consensus core of libdcf: a sans-I/O replica (`consensus`), the types every
//! layer shares (`types`) and the one binary encoding of headers and metadata (`encoding`). It performs no I/O, reads no clock (time is a parameter) and
//! starts no thread; the runtime crate drives it.

#![forbid(unsafe_code)]

pub mod consensus;
pub mod encoding;
pub mod types;
