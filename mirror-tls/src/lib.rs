//! Certificates and trust for a mirror registry.
#![deny(missing_docs)]
