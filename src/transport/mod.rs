//! See DESIGN.md, module `transport`.
