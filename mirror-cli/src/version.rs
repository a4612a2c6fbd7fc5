//! What `mirrorctl -V` and `--version` say, from the facts `build.rs` records: the version, the
//! git commit (`unknown` when built from a source tarball without `.git`), the target and the
//! build date.

/// `-V`: `0.1.0 (0e33e92c1a2b 2026-12-06)`.
pub const SHORT: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("MIRRORCTL_GIT_COMMIT_SHORT"),
    " ",
    env!("MIRRORCTL_BUILD_DATE"),
    ")"
);

/// `--version`: the version, then one `name: value` line per fact.
pub const LONG: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    "\ncommit: ",
    env!("MIRRORCTL_GIT_COMMIT"),
    "\ntarget: ",
    env!("MIRRORCTL_BUILD_TARGET"),
    "\nbuilt:  ",
    env!("MIRRORCTL_BUILD_DATE"),
);
