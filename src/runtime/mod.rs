//! See DESIGN.md, module `runtime`.
