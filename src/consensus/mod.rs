//! See DESIGN.md, module `consensus`.
