//! `disk`: free space for the registry's data directory.

use super::{HostFacts, Outcome, PreflightOptions, Status};
use crate::error::ErrorChain;
use crate::size::format_size;

pub(super) fn check(facts: &HostFacts, opts: &PreflightOptions) -> Outcome {
    if let Some(s3) = opts.storage.s3() {
        return Outcome::skipped(format!(
            "s3 storage: blobs go to bucket `{}`, not to `{}`",
            s3.bucket,
            opts.data_dir.display()
        ));
    }
    let disk = match &facts.disk {
        Ok(d) => d,
        Err(e) => return Outcome::error(e),
    };
    let free = format_size(disk.free_bytes);
    let place = if disk.measured == disk.data_dir {
        format!("`{}`", disk.measured.display())
    } else {
        format!(
            "`{}` (for `{}`)",
            disk.measured.display(),
            disk.data_dir.display()
        )
    };
    let mut status = Status::Pass;
    let mut hint = None;
    let mut detail = if disk.free_bytes < opts.min_free {
        status = Status::Fail;
        hint = Some(
            "free space on that filesystem, point `--data-dir` at a larger one, or lower `--min-free`"
                .to_string(),
        );
        format!(
            "{free} free on {place}, below the {} required",
            format_size(opts.min_free)
        )
    } else {
        format!(
            "{free} free on {place}, at least {} required",
            format_size(opts.min_free)
        )
    };
    match (&opts.release, &facts.release_size) {
        (None, _) => {}
        (Some(_), None) if opts.offline => detail.push_str("; release not sized (`--offline`)"),
        (Some(image), None) => detail.push_str(&format!("; release `{image}` not sized")),
        (Some(_), Some(Err(e))) => {
            detail.push_str(&format!(
                "; could not size the release: {}",
                ErrorChain(&**e)
            ));
            if status == Status::Pass {
                status = Status::Error;
                hint = e.hint().map(|h| h.to_string());
            }
        }
        (Some(_), Some(Ok(size))) => {
            let needed = format_size(size.needed_bytes);
            let what = match &size.subtracted {
                Some(to) => format!(
                    "release {} needs {needed} ({} blobs `{to}` does not hold yet)",
                    size.version, size.blobs
                ),
                None => format!(
                    "release {} needs {needed} ({} unique blobs)",
                    size.version, size.blobs
                ),
            };
            detail.push_str("; ");
            detail.push_str(&what);
            if let Some(note) = &size.note {
                detail.push_str(&format!(" ({note})"));
            }
            if size.needed_bytes > disk.free_bytes {
                detail.push_str(": it does not fit");
                status = Status::Fail;
                hint = Some(format!(
                    "free at least {} on that filesystem or point `--data-dir` at a larger one",
                    format_size(size.needed_bytes - disk.free_bytes)
                ));
            }
        }
    }
    Outcome::new(status, detail).hint(hint)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::super::facts::unreadable;
    use super::super::test_support::{healthy, run_one};
    use super::super::{DiskSpace, PreflightOptions, ReleaseSize};
    use crate::ImageRef;

    fn disk(free: u64, measured: &str) -> DiskSpace {
        DiskSpace {
            data_dir: PathBuf::from("/opt/registry/data"),
            measured: PathBuf::from(measured),
            free_bytes: free,
            total_bytes: 4 << 40,
        }
    }

    #[test]
    fn threshold_table() {
        const GIB: u64 = 1 << 30;
        let cases = [
            (
                1000 * GIB,
                "/",
                "pass | 1000GiB free on `/` (for `/opt/registry/data`), at least 1000GiB required",
            ),
            (
                1000 * GIB + 1,
                "/opt",
                "pass | 1000GiB free on `/opt` (for `/opt/registry/data`), at least 1000GiB required",
            ),
            (
                1000 * GIB - 1,
                "/",
                "fail | 1000GiB free on `/` (for `/opt/registry/data`), below the 1000GiB required | hint: free space on that filesystem, point `--data-dir` at a larger one, or lower `--min-free`",
            ),
            (
                64 * GIB,
                "/",
                "fail | 64GiB free on `/` (for `/opt/registry/data`), below the 1000GiB required | hint: free space on that filesystem, point `--data-dir` at a larger one, or lower `--min-free`",
            ),
            (
                0,
                "/opt/registry/data",
                "fail | 0B free on `/opt/registry/data`, below the 1000GiB required | hint: free space on that filesystem, point `--data-dir` at a larger one, or lower `--min-free`",
            ),
        ];
        let got: Vec<String> = cases
            .iter()
            .map(|(free, measured, _)| {
                let mut f = healthy();
                f.disk = Ok(disk(*free, measured));
                run_one("disk", &f, &PreflightOptions::default())
            })
            .collect();
        assert_eq!(got, cases.iter().map(|c| c.2).collect::<Vec<_>>());
    }

    #[test]
    fn min_free_is_configurable() {
        let mut f = healthy();
        f.disk = Ok(disk(2 << 20, "/"));
        let opts = PreflightOptions {
            min_free: 1 << 20,
            ..Default::default()
        };
        assert_eq!(
            run_one("disk", &f, &opts),
            "pass | 2MiB free on `/` (for `/opt/registry/data`), at least 1MiB required"
        );
    }

    #[test]
    fn release_size_table() {
        let size = |needed: u64, subtracted: Option<&str>, note: Option<&str>| ReleaseSize {
            image: "quay.io/openshift-release-dev/ocp-release:4.14.1-x86_64".into(),
            version: "4.14.1".into(),
            needed_bytes: needed,
            blobs: 180,
            subtracted: subtracted.map(str::to_string),
            note: note.map(str::to_string),
        };
        let image =
            ImageRef::parse("quay.io/openshift-release-dev/ocp-release:4.14.1-x86_64").unwrap();
        let opts = |offline: bool| PreflightOptions {
            min_free: 10 << 30,
            release: Some(image.clone()),
            offline,
            ..Default::default()
        };
        let cases = [
            (
                Some(Ok(size(15 << 30, None, None))),
                false,
                "pass | 20GiB free on `/` (for `/opt/registry/data`), at least 10GiB required; release 4.14.1 needs 15GiB (180 unique blobs)",
            ),
            (
                Some(Ok(size(25 << 30, None, None))),
                false,
                "fail | 20GiB free on `/` (for `/opt/registry/data`), at least 10GiB required; release 4.14.1 needs 25GiB (180 unique blobs): it does not fit | hint: free at least 5GiB on that filesystem or point `--data-dir` at a larger one",
            ),
            (
                Some(Ok(size(
                    5 << 30,
                    Some("mirror.example.com:5000/ocp4/openshift4"),
                    None,
                ))),
                false,
                "pass | 20GiB free on `/` (for `/opt/registry/data`), at least 10GiB required; release 4.14.1 needs 5GiB (180 blobs `mirror.example.com:5000/ocp4/openshift4` does not hold yet)",
            ),
            (
                Some(Ok(size(
                    15 << 30,
                    None,
                    Some(
                        "could not ask `m:5000/o` what it holds (boom); counting the whole release",
                    ),
                ))),
                false,
                "pass | 20GiB free on `/` (for `/opt/registry/data`), at least 10GiB required; release 4.14.1 needs 15GiB (180 unique blobs) (could not ask `m:5000/o` what it holds (boom); counting the whole release)",
            ),
            (
                Some(Err(std::sync::Arc::new(crate::Error::Registry {
                    op: "get manifest",
                    target: "quay.io/x:1".into(),
                    status: 401,
                    code: None,
                    message: None,
                    tries: 1,
                    auth_entry: None,
                    retry_after: None,
                }))),
                false,
                "error | 20GiB free on `/` (for `/opt/registry/data`), at least 10GiB required; could not size the release: get manifest `quay.io/x:1`: registry answered 401 (after 1 try) | hint: no credentials matched the registry of `quay.io/x:1`: add them to the auth file",
            ),
            (
                None,
                true,
                "pass | 20GiB free on `/` (for `/opt/registry/data`), at least 10GiB required; release not sized (`--offline`)",
            ),
        ];
        let got: Vec<String> = cases
            .iter()
            .map(|(rs, offline, _)| {
                let mut f = healthy();
                f.disk = Ok(disk(20 << 30, "/"));
                f.release_size = rs.clone();
                run_one("disk", &f, &opts(*offline))
            })
            .collect();
        assert_eq!(got, cases.iter().map(|c| c.2).collect::<Vec<_>>());
    }

    #[test]
    fn statvfs_failure_could_not_run() {
        let mut f = healthy();
        f.disk = unreadable("statvfs `/`: Permission denied (os error 13)");
        assert_eq!(
            run_one("disk", &f, &PreflightOptions::default()),
            "error | statvfs `/`: Permission denied (os error 13)"
        );
    }
}
