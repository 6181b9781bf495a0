//! See DESIGN.md, module `config`.
