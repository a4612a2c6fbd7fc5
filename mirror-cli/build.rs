//! Build facts for `mirrorctl --version`: the git commit, the target and the build date.
//!
//! - `MIRRORCTL_GIT_COMMIT`: the commit, from git when the source is this repository's work
//!   tree; `unknown` in a source tarball without `.git` (or set it when building one).
//! - `MIRRORCTL_BUILD_TARGET`: the target triple; `scripts/dist.sh` sets it to the zigbuild
//!   target with its glibc suffix (`x86_64-unknown-linux-gnu.2.17`).
//! - `MIRRORCTL_BUILD_DATE`: `SOURCE_DATE_EPOCH` when set (reproducible builds), else today, UTC.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let workspace = manifest.parent().unwrap_or(&manifest).to_path_buf();
    for var in [
        "MIRRORCTL_GIT_COMMIT",
        "MIRRORCTL_BUILD_TARGET",
        "SOURCE_DATE_EPOCH",
    ] {
        println!("cargo:rerun-if-env-changed={var}");
    }
    println!("cargo:rerun-if-changed=build.rs");

    let commit = std::env::var("MIRRORCTL_GIT_COMMIT")
        .ok()
        .filter(|c| !c.is_empty())
        .or_else(|| git_commit(&workspace))
        .unwrap_or_else(|| "unknown".into());
    let target = std::env::var("MIRRORCTL_BUILD_TARGET")
        .ok()
        .filter(|t| !t.is_empty())
        .or_else(|| std::env::var("TARGET").ok())
        .unwrap_or_else(|| "unknown".into());
    let secs = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
        .unwrap_or_else(|| time::OffsetDateTime::now_utc().unix_timestamp());
    let date = time::OffsetDateTime::from_unix_timestamp(secs)
        .map(|t| t.date().to_string())
        .unwrap_or_else(|_| "unknown".into());

    let short: String = commit.chars().take(12).collect();
    println!("cargo:rustc-env=MIRRORCTL_GIT_COMMIT={commit}");
    println!("cargo:rustc-env=MIRRORCTL_GIT_COMMIT_SHORT={short}");
    println!("cargo:rustc-env=MIRRORCTL_BUILD_TARGET={target}");
    println!("cargo:rustc-env=MIRRORCTL_BUILD_DATE={date}");
}

/// The commit of `workspace`'s git work tree, and the files that change with it (watched so a
/// new commit rebuilds). `None` without git, or when the nearest work tree is another
/// repository (a source tarball unpacked inside one).
fn git_commit(workspace: &Path) -> Option<String> {
    let git = |args: &[&str]| -> Option<String> {
        let out = Command::new("git")
            .arg("-C")
            .arg(workspace)
            .args(args)
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    let top = PathBuf::from(git(&["rev-parse", "--show-toplevel"])?);
    if top.canonicalize().ok()? != workspace.canonicalize().ok()? {
        return None;
    }
    let commit = git(&["rev-parse", "HEAD"])?;
    // HEAD moves on checkout; the branch's ref (loose or packed) moves on commit. Only files
    // that exist: cargo reruns a build script on every build while a watched file is missing.
    let mut watch = vec!["HEAD".to_string(), "packed-refs".to_string()];
    if let Some(r) = git(&["symbolic-ref", "-q", "HEAD"]) {
        watch.push(r);
    }
    for w in watch {
        if let Some(p) = git(&["rev-parse", "--path-format=absolute", "--git-path", &w])
            && Path::new(&p).exists()
        {
            println!("cargo:rerun-if-changed={p}");
        }
    }
    Some(commit)
}
