//! See DESIGN.md, module `ffi`.
