//! mirrorctl's engine.
#![deny(missing_docs)]
