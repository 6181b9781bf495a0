//! See DESIGN.md, module `api`.
