//! Signature stores: `<store>/sha256=<hex>/signature-N` over HTTP(S) or in a directory
//! (library-go `verify/store/sigstore` and `fileStore`). N runs from 1 to 9; a 404 (or a
//! missing file) ends the scan; other HTTP errors go on to the next N; empty bodies are
//! skipped. Each body is capped at 50 KiB: a larger one is refused, not cut.

use std::io::Read as _;
use std::path::PathBuf;
use std::time::Duration;

use futures_util::StreamExt as _;
use serde::Serialize;

use crate::digest::Digest;
use crate::error::Error;

/// The largest signature read (library-go's `io.LimitReader(body, 50*1024)`).
pub const MAX_SIGNATURE_BYTES: usize = 50 * 1024;
/// Signatures looked for per store: `signature-1` to `signature-9` (`maxSignatureSearch`).
pub const MAX_SIGNATURES: u32 = 9;

/// Where signatures are published.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Store {
    /// An `http` or `https` base URL.
    Http(url::Url),
    /// A directory (`file://` URL).
    File(PathBuf),
}

impl Store {
    /// Parses an `http`, `https` or `file` URL.
    pub(crate) fn parse(text: &str) -> Result<Store, String> {
        let url = url::Url::parse(text).map_err(|e| {
            format!("`{text}` is not a URL ({e}): use http://, https:// or file://")
        })?;
        match url.scheme() {
            "http" | "https" => Ok(Store::Http(url)),
            "file" => url
                .to_file_path()
                .map(Store::File)
                .map_err(|()| format!("`{text}` does not name a local directory")),
            other => Err(format!(
                "`{text}` has scheme `{other}`: a signature store must be http://, https:// or file://"
            )),
        }
    }

    /// The store as a URL, for reports.
    pub(crate) fn url(&self) -> String {
        match self {
            Store::Http(u) => u.to_string(),
            Store::File(p) => format!("file://{}", p.display()),
        }
    }

    /// Where `signature-N` of `digest` is.
    pub(crate) fn location(&self, digest: &Digest, n: u32) -> String {
        let tail = format!("sha256={}/signature-{n}", digest.hex());
        match self {
            Store::Http(u) => {
                let mut u = u.clone();
                let path = format!("{}/{tail}", u.path().trim_end_matches('/'));
                u.set_path(&path);
                u.to_string()
            }
            Store::File(p) => p.join(tail).display().to_string(),
        }
    }
}

/// What a store gave.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum StoreResult {
    /// It served at least one signature.
    Answered,
    /// It answered, but has no signature for this release (404 from the first).
    NothingPublished,
    /// It could not be reached (connection, TLS, or an unreadable directory).
    Unreachable,
    /// Not asked: the signatures found before it already satisfied every keyring.
    NotTried,
}

/// One store, as the report shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct StoreReport {
    /// The store URL.
    pub url: String,
    /// What it gave.
    pub result: StoreResult,
    /// Signatures it served.
    pub signatures: usize,
    /// Errors on the way (a status other than 404, a connection error), when there were any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// One `signature-N` found: its bytes, or why they were refused (too large).
#[derive(Debug)]
pub(crate) struct Fetched {
    pub(crate) index: u32,
    pub(crate) location: String,
    pub(crate) body: Result<Vec<u8>, String>,
}

/// An HTTP client for stores, trusting the system roots plus `ca_pems`.
pub(crate) fn http_client(ca_pems: &[Vec<u8>]) -> Result<reqwest::Client, Error> {
    let mut certs = Vec::new();
    for pem in ca_pems {
        let bundle = reqwest::Certificate::from_pem_bundle(pem).map_err(|e| Error::TlsSetup {
            reason: format!("CA bundle does not parse: {e}"),
        })?;
        certs.extend(bundle);
    }
    reqwest::Client::builder()
        .user_agent(concat!("mirrorctl/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(15))
        .timeout(Duration::from_secs(60))
        .tls_certs_merge(certs)
        .build()
        .map_err(|e| Error::TlsSetup { reason: chain(&e) })
}

/// An error and its causes, `a: b: c`.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = c.source();
    }
    s
}

enum Got {
    Body(Vec<u8>),
    TooLarge,
    Missing,
    Status(u16),
    Unreachable(String),
}

async fn get_http(http: &reqwest::Client, url: &str) -> Got {
    let resp = match http.get(url).send().await {
        Ok(r) => r,
        Err(e) => return Got::Unreachable(chain(&e.without_url())),
    };
    match resp.status().as_u16() {
        200 => {}
        404 => return Got::Missing,
        s => return Got::Status(s),
    }
    if resp
        .content_length()
        .is_some_and(|n| n > MAX_SIGNATURE_BYTES as u64)
    {
        return Got::TooLarge;
    }
    let mut body = Vec::new();
    let mut stream = resp.bytes_stream();
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(c) => {
                body.extend_from_slice(&c);
                if body.len() > MAX_SIGNATURE_BYTES {
                    return Got::TooLarge;
                }
            }
            Err(e) => return Got::Unreachable(chain(&e.without_url())),
        }
    }
    Got::Body(body)
}

fn get_file(path: &str) -> Got {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Got::Missing,
        Err(e) => return Got::Unreachable(e.to_string()),
    };
    let mut body = Vec::new();
    match file
        .take(MAX_SIGNATURE_BYTES as u64 + 1)
        .read_to_end(&mut body)
    {
        Ok(_) if body.len() > MAX_SIGNATURE_BYTES => Got::TooLarge,
        Ok(_) => Got::Body(body),
        Err(e) => Got::Unreachable(e.to_string()),
    }
}

/// Reads `signature-1..9` of `digest` from `store`, stopping at the first 404 (or when the
/// store cannot be reached: a dead store is not asked nine times).
pub(crate) async fn fetch(
    http: &reqwest::Client,
    store: &Store,
    digest: &Digest,
) -> (Vec<Fetched>, StoreReport) {
    let mut found = Vec::new();
    let mut errors = Vec::new();
    let mut unreachable = false;
    if let Store::File(dir) = store
        && !dir.is_dir()
    {
        // A mistyped directory is not "nothing published".
        let report = StoreReport {
            url: store.url(),
            result: StoreResult::Unreachable,
            signatures: 0,
            detail: Some(format!("`{}` is not a directory", dir.display())),
        };
        return (found, report);
    }
    for n in 1..=MAX_SIGNATURES {
        let location = store.location(digest, n);
        let got = match store {
            Store::Http(_) => get_http(http, &location).await,
            Store::File(_) => get_file(&location),
        };
        match got {
            Got::Body(b) if b.is_empty() => continue,
            Got::Body(b) => found.push(Fetched {
                index: n,
                location,
                body: Ok(b),
            }),
            Got::TooLarge => found.push(Fetched {
                index: n,
                location,
                body: Err(format!(
                    "it is over the {MAX_SIGNATURE_BYTES}-byte limit for a signature; refused, not cut"
                )),
            }),
            Got::Missing => break,
            Got::Status(s) => errors.push(format!("`{location}`: HTTP {s}")),
            Got::Unreachable(e) => {
                errors.push(format!("`{location}`: {e}"));
                unreachable = found.is_empty();
                break;
            }
        }
    }
    let result = if !found.is_empty() {
        StoreResult::Answered
    } else if unreachable {
        StoreResult::Unreachable
    } else {
        StoreResult::NothingPublished
    };
    let report = StoreReport {
        url: store.url(),
        result,
        signatures: found.len(),
        detail: (!errors.is_empty()).then(|| errors.join("; ")),
    };
    (found, report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_follow_the_sigstore_layout() {
        let d = Digest::parse(&format!("sha256:{}", "ab".repeat(32))).unwrap();
        let hex = d.hex().to_string();
        let table = [
            (
                "https://mirror.openshift.com/pub/openshift-v4/signatures/openshift/release",
                format!(
                    "https://mirror.openshift.com/pub/openshift-v4/signatures/openshift/release/sha256={hex}/signature-1"
                ),
            ),
            (
                "http://127.0.0.1:8080/",
                format!("http://127.0.0.1:8080/sha256={hex}/signature-1"),
            ),
            (
                "file:///srv/sigs",
                format!("/srv/sigs/sha256={hex}/signature-1"),
            ),
        ];
        for (store, want) in table {
            assert_eq!(Store::parse(store).unwrap().location(&d, 1), want);
        }
        for bad in ["ftp://x/y", "mirror.openshift.com/sigs", "s3://bucket/p"] {
            assert!(Store::parse(bad).is_err(), "{bad}");
        }
    }
}
