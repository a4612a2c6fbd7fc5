//! `storage`: with S3 storage, the bucket answers at its endpoint, the access key works, and
//! a small object can be written and removed (what the registry will do). Skipped with
//! filesystem storage, which `disk` covers.

use super::{HostFacts, Outcome, PreflightOptions};

pub(super) fn check(facts: &HostFacts, opts: &PreflightOptions) -> Outcome {
    let Some(s3) = opts.storage.s3() else {
        return Outcome::skipped("filesystem storage (the `disk` check covers it)");
    };
    match &facts.storage {
        None => Outcome::skipped(format!("`{}` not contacted", s3.endpoint_str())),
        Some(Ok(report)) => Outcome::pass(format!("{}: {}", s3.describe(), report.describe())),
        // Not a failure to look: a bucket that refuses is what this check finds.
        Some(Err(e)) => Outcome::fail(crate::error::ErrorChain(&**e).to_string())
            .hint(e.hint().map(|h| h.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{healthy, run_one};
    use std::sync::Arc;

    use super::super::PreflightOptions;
    use crate::error::{Error, ObjectStorageFailure};
    use crate::storage::{S3CheckReport, S3Storage, StorageSettings};

    #[test]
    fn storage_table() {
        let dir = tempfile::tempdir().unwrap();
        let creds = dir.path().join("c");
        std::fs::write(&creds, "AKIA\nsecret\n").unwrap();
        let s3 =
            S3Storage::new("http://127.0.0.1:9000", "mirror", None, None, &creds, true).unwrap();
        let opts = PreflightOptions {
            storage: StorageSettings::S3(Box::new(s3)),
            ..Default::default()
        };
        let ok = S3CheckReport {
            endpoint: "http://127.0.0.1:9000".into(),
            bucket: "mirror".into(),
            probe_key: "mirrorctl-check-1".into(),
        };
        let mut f = healthy();
        assert_eq!(
            run_one("storage", &f, &PreflightOptions::default()),
            "skipped | filesystem storage (the `disk` check covers it)"
        );
        f.storage = Some(Ok(ok));
        assert_eq!(
            run_one("storage", &f, &opts),
            "pass | s3 bucket `mirror` at http://127.0.0.1:9000 (region us-east-1, root /, blob downloads redirected to the store): bucket `mirror` at http://127.0.0.1:9000 answers, the key works, a test object was written and removed"
        );
        f.storage = Some(Err(Arc::new(Error::ObjectStorage(Box::new(
            ObjectStorageFailure {
                op: "list the bucket",
                endpoint: "http://127.0.0.1:9000".into(),
                bucket: "mirror".into(),
                status: Some(404),
                code: Some("NoSuchBucket".into()),
                detail: "gone".into(),
                credentials: creds.clone(),
            },
        )))));
        assert_eq!(
            run_one("storage", &f, &opts),
            "fail | object storage `http://127.0.0.1:9000`, bucket `mirror`: list the bucket: answered 404 NoSuchBucket: gone | hint: create the bucket `mirror` first (the registry never creates it), or check its name"
        );
        assert!(
            run_one("disk", &f, &opts)
                .starts_with("skipped | s3 storage: blobs go to bucket `mirror`")
        );
    }
}
