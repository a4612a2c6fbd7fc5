//! The registry on S3 object storage (issue 15), against a real S3 API server (moto) and the
//! Debian `docker-registry` 2.8: the storage check, several replicas on one bucket, refusals.

use mirror_core::{S3Storage, check_s3};
use mirror_testkit::moto::{BUCKET, Moto};

fn storage(m: &Moto, bucket: &str, creds: &std::path::Path) -> S3Storage {
    S3Storage::new(&m.endpoint, bucket, None, Some("/mirror"), creds, true).unwrap()
}

#[test]
fn the_storage_check_passes_on_a_good_bucket_and_names_each_problem() {
    let m = Moto::start_with_auth();
    let tmp = tempfile::tempdir().unwrap();
    let good = m.credentials_file(tmp.path());
    let rt = mirror_testkit::runtime();
    let r = rt.block_on(check_s3(&storage(&m, BUCKET, &good))).unwrap();
    assert!(r.probe_key.starts_with("mirror/mirrorctl-check-"), "{r:?}");
    let wrong_secret = tmp.path().join("wrong");
    std::fs::write(
        &wrong_secret,
        format!("{}\nnot-the-secret\n", m.access_key_id),
    )
    .unwrap();
    let unknown = tmp.path().join("unknown");
    std::fs::write(&unknown, "AKIANOTKNOWN\nx\n").unwrap();
    let dead = format!("http://127.0.0.1:{}", mirror_testkit::free_port());
    let cases = [
        (
            storage(&m, BUCKET, &wrong_secret),
            "answered 403 SignatureDoesNotMatch",
            format!("check the access key in `{}`", wrong_secret.display()),
        ),
        (
            storage(&m, BUCKET, &unknown),
            "answered 403 InvalidAccessKeyId",
            format!("check the access key in `{}`", unknown.display()),
        ),
        (
            storage(&m, "no-such-bucket", &good),
            "answered 404 NoSuchBucket",
            "create the bucket `no-such-bucket` first".to_string(),
        ),
        (
            S3Storage::new(&dead, BUCKET, None, None, &good, true).unwrap(),
            "list the bucket: cannot connect: ",
            format!("check the endpoint URL `{dead}`"),
        ),
    ];
    for (s, want, hint) in cases {
        let err = rt.block_on(check_s3(&s)).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.starts_with(&format!(
                "object storage `{}`, bucket `{}`: list the bucket: ",
                s.endpoint_str(),
                s.bucket
            )),
            "{msg}"
        );
        assert!(msg.contains(want), "{msg}");
        let h = err.hint().unwrap().to_string();
        assert!(h.starts_with(&hint), "{h}");
        assert!(!msg.contains("not-the-secret") && !h.contains("not-the-secret"));
    }
}
