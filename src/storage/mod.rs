//! See DESIGN.md, module `storage`.
