//! Proving an S3 bucket usable for the registry with three signed requests: list it (the
//! bucket exists and the key works), write a small object under the registry's root, remove
//! it. The requests are signed with AWS Signature Version 4 (`aws-sigv4`, the signer of AWS's
//! own SDK) in the `Authorization` header and sent with the workspace's reqwest; path-style
//! addressing, as the registry uses it with an endpoint.

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
    UriPathNormalizationMode, sign,
};
use aws_sigv4::sign::v4;
use serde::Serialize;

use super::S3Storage;
use crate::error::Error;

/// What [`check_s3`] found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct S3CheckReport {
    /// The endpoint.
    pub endpoint: String,
    /// The bucket.
    pub bucket: String,
    /// The test object written and removed.
    pub probe_key: String,
}

impl S3CheckReport {
    /// One line for humans.
    pub fn describe(&self) -> String {
        format!(
            "bucket `{}` at {} answers, the key works, a test object was written and removed",
            self.bucket, self.endpoint
        )
    }
}

/// Checks that `s`'s bucket answers at its endpoint, that the access key works, and that a
/// small object can be written and removed under the registry's root. Read-only apart from
/// that one object, which is removed again.
pub async fn check_s3(s: &S3Storage) -> Result<S3CheckReport, Error> {
    let http = reqwest::Client::builder()
        .user_agent(concat!("mirrorctl/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(30))
        // A redirect would carry the signature to another host; S3 answers 301 for a wrong
        // region, which is reported as such.
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| fail(s, "set up the HTTP client", None, None, error_chain(&e)))?;
    let prefix = s.key_prefix();

    // No `prefix` parameter: S3 wants its `/` encoded in the signed query, and moto (the
    // S3 server the tests use) verifies that encoding wrongly; one key is enough to prove the
    // bucket and the key.
    let mut list = bucket_url(s);
    list.query_pairs_mut()
        .append_pair("list-type", "2")
        .append_pair("max-keys", "1");
    send(&http, s, "list the bucket", reqwest::Method::GET, list, b"").await?;

    let key = format!(
        "{prefix}mirrorctl-check-{}",
        hex::encode(rand::random::<[u8; 8]>())
    );
    let object = object_url(s, &key);
    send(
        &http,
        s,
        "write a test object",
        reqwest::Method::PUT,
        object.clone(),
        b"mirrorctl storage check\n",
    )
    .await?;
    send(
        &http,
        s,
        "remove the test object",
        reqwest::Method::DELETE,
        object,
        b"",
    )
    .await?;
    Ok(S3CheckReport {
        endpoint: s.endpoint_str(),
        bucket: s.bucket.clone(),
        probe_key: key,
    })
}

/// [`check_s3`] from synchronous code, also from inside an async runtime: on a thread of its
/// own with a runtime of its own.
pub(crate) fn check_s3_blocking(s: &S3Storage) -> Result<S3CheckReport, Error> {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| fail(s, "start the check", None, None, e.to_string()))?
                    .block_on(check_s3(s))
            })
            .join()
            .unwrap_or_else(|_| Err(fail(s, "check", None, None, "the check panicked".into())))
    })
}

fn bucket_url(s: &S3Storage) -> url::Url {
    let mut u = s.endpoint.clone();
    u.set_path(&format!("/{}", s.bucket));
    u
}

fn object_url(s: &S3Storage, key: &str) -> url::Url {
    let mut u = s.endpoint.clone();
    if let Ok(mut segs) = u.path_segments_mut() {
        segs.clear().push(&s.bucket).extend(key.split('/'));
    }
    u
}

/// Sends one signed request; a non-2xx answer is an [`Error::ObjectStorage`] with the store's
/// error code and message. Returns the body.
async fn send(
    http: &reqwest::Client,
    s: &S3Storage,
    op: &'static str,
    method: reqwest::Method,
    url: url::Url,
    body: &[u8],
) -> Result<String, Error> {
    let headers = signed_headers(s, method.as_str(), url.as_str(), body)
        .map_err(|e| fail(s, op, None, None, format!("cannot sign the request: {e}")))?;
    let mut req = http.request(method, url).body(body.to_vec());
    for (name, value) in headers {
        req = req.header(name, value);
    }
    let resp = req
        .send()
        .await
        .map_err(|e| fail(s, op, None, None, error_chain(&e)))?;
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    if status.is_success() {
        return Ok(text);
    }
    let code = xml_field(&text, "Code");
    let mut message = xml_field(&text, "Message").unwrap_or_default();
    if let Some(region) = xml_field(&text, "Region") {
        message.push_str(&format!(" (the bucket's region: `{region}`)"));
    }
    Err(fail(s, op, Some(status.as_u16()), code, message))
}

/// The `Authorization`, `x-amz-date` and `x-amz-content-sha256` headers for a request.
fn signed_headers(
    s: &S3Storage,
    method: &str,
    url: &str,
    body: &[u8],
) -> Result<Vec<(String, String)>, String> {
    let identity = Credentials::new(
        s.credentials.access_key_id.clone(),
        s.credentials.secret_access_key.clone(),
        None,
        None,
        "mirrorctl",
    )
    .into();
    // S3's rules: the path is encoded once and not normalized; the payload hash is sent.
    let mut settings = SigningSettings::default();
    settings.percent_encoding_mode = PercentEncodingMode::Single;
    settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(&s.region)
        .name("s3")
        .time(SystemTime::now())
        .settings(settings)
        .build()
        .map_err(|e| e.to_string())?
        .into();
    let request = SignableRequest::new(method, url, std::iter::empty(), SignableBody::Bytes(body))
        .map_err(|e| e.to_string())?;
    let (instructions, _) = sign(request, &params)
        .map_err(|e| e.to_string())?
        .into_parts();
    Ok(instructions
        .headers()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect())
}

fn fail(
    s: &S3Storage,
    op: &'static str,
    status: Option<u16>,
    code: Option<String>,
    detail: String,
) -> Error {
    Error::ObjectStorage(Box::new(crate::error::ObjectStorageFailure {
        op,
        endpoint: s.endpoint_str(),
        bucket: s.bucket.clone(),
        status,
        code,
        detail,
        credentials: s.credentials.source.clone(),
    }))
}

/// The text of the first `<name>` element of an S3 error document.
fn xml_field(xml: &str, name: &str) -> Option<String> {
    let start = xml.find(&format!("<{name}>"))? + name.len() + 2;
    let end = xml[start..].find(&format!("</{name}>"))? + start;
    let value = xml[start..end].trim();
    (!value.is_empty()).then(|| value.to_string())
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        let t = s.to_string();
        if !out.contains(&t) {
            out.push_str(": ");
            out.push_str(&t);
        }
        src = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_documents_and_urls() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message><BucketName>x</BucketName></Error>"#;
        assert_eq!(xml_field(xml, "Code").as_deref(), Some("NoSuchBucket"));
        assert_eq!(
            xml_field(xml, "Message").as_deref(),
            Some("The specified bucket does not exist")
        );
        assert_eq!(xml_field(xml, "Region"), None);
        assert_eq!(xml_field("", "Code"), None);

        let dir = tempfile::tempdir().unwrap();
        let creds = dir.path().join("c");
        std::fs::write(&creds, "AKIA\nsecret\n").unwrap();
        let s = S3Storage::new(
            "http://127.0.0.1:9000",
            "mirror",
            None,
            Some("/a b/c"),
            &creds,
            true,
        )
        .unwrap();
        assert_eq!(bucket_url(&s).as_str(), "http://127.0.0.1:9000/mirror");
        assert_eq!(
            object_url(&s, &format!("{}k", s.key_prefix())).as_str(),
            "http://127.0.0.1:9000/mirror/a%20b/c/k"
        );
        let h = signed_headers(&s, "GET", "http://127.0.0.1:9000/mirror?list-type=2", b"").unwrap();
        let names: Vec<&str> = h.iter().map(|(n, _)| n.as_str()).collect();
        for want in ["authorization", "x-amz-date", "x-amz-content-sha256"] {
            assert!(names.contains(&want), "{names:?}");
        }
        let auth = &h.iter().find(|(n, _)| n == "authorization").unwrap().1;
        assert!(
            auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIA/"),
            "{auth}"
        );
        assert!(auth.contains("/us-east-1/s3/aws4_request"), "{auth}");
        assert!(!auth.contains("secret"));
    }
}
