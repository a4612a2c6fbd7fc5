//! A real S3 API server on loopback: moto's (`moto_server`, from PyPI `moto[server]`), which
//! Debian's `docker-registry` 2.8 works with. In memory; killed on drop.

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::registry::free_port;
use crate::tools::require_tool;

/// The bucket every [`Moto`] starts with.
pub const BUCKET: &str = "mirror";

/// A running `moto_server` on `127.0.0.1:<port>` with the bucket [`BUCKET`].
#[derive(Debug)]
pub struct Moto {
    child: Option<Child>,
    dir: tempfile::TempDir,
    /// `http://127.0.0.1:<port>`.
    pub endpoint: String,
    /// An access key the server accepts.
    pub access_key_id: String,
    /// Its secret.
    pub secret_access_key: String,
    /// Whether the server checks signatures and keys (see [`Moto::start_with_auth`]).
    pub auth: bool,
}

impl Moto {
    /// Starts moto as it is by default: any key is accepted (it checks no signature), and
    /// presigned URLs work, so the registry's redirects can be followed.
    pub fn start() -> Self {
        let mut m = Self::spawn();
        m.access_key_id = "AKIAMIRRORTEST".into();
        m.secret_access_key = "mirror-test-secret-key".into();
        m.create_bucket(BUCKET);
        m
    }

    /// Starts moto with IAM authentication on: a user with an access key allowed `s3:*` is
    /// made, the bucket created, then every request must be signed by a key moto knows, with
    /// the right secret (`InvalidAccessKeyId`, `SignatureDoesNotMatch` otherwise). moto then
    /// fails presigned URLs (500), so this one is for credential checks, not for serving a
    /// registry with redirects.
    pub fn start_with_auth() -> Self {
        let mut m = Self::spawn();
        let iam = |params: &[(&str, &str)]| m.iam(params);
        iam(&[("Action", "CreateUser"), ("UserName", "mirror")]);
        let key = iam(&[("Action", "CreateAccessKey"), ("UserName", "mirror")]);
        let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#;
        iam(&[
            ("Action", "PutUserPolicy"),
            ("UserName", "mirror"),
            ("PolicyName", "registry"),
            ("PolicyDocument", policy),
        ]);
        m.access_key_id = xml_field(&key, "AccessKeyId");
        m.secret_access_key = xml_field(&key, "SecretAccessKey");
        m.create_bucket(BUCKET);
        let (status, body) = m.request("POST", "/moto-api/reset-auth", &[], b"0".to_vec());
        assert_eq!(status, 200, "moto reset-auth: {body}");
        m.auth = true;
        m
    }

    fn spawn() -> Self {
        let bin = require_tool("moto_server");
        let dir = tempfile::Builder::new()
            .prefix("mirror-test-moto")
            .tempdir()
            .expect("tempdir");
        for _ in 0..5 {
            let port = free_port();
            let log = std::fs::File::create(dir.path().join("moto.log")).expect("moto log");
            let mut child = Command::new(&bin)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("log"))
                .stderr(log)
                .spawn()
                .expect("spawn moto_server");
            let addr: SocketAddr = ([127, 0, 0, 1], port).into();
            let start = Instant::now();
            let up = loop {
                if let Ok(Some(_)) = child.try_wait() {
                    break false;
                }
                if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                    break true;
                }
                if start.elapsed() > Duration::from_secs(60) {
                    let _ = child.kill();
                    let _ = child.wait();
                    break false;
                }
                std::thread::sleep(Duration::from_millis(100));
            };
            if up {
                return Moto {
                    child: Some(child),
                    dir,
                    endpoint: format!("http://127.0.0.1:{port}"),
                    access_key_id: String::new(),
                    secret_access_key: String::new(),
                    auth: false,
                };
            }
        }
        let log = std::fs::read_to_string(dir.path().join("moto.log")).unwrap_or_default();
        panic!("moto_server did not start; its log:\n{log}")
    }

    /// Creates a bucket (path style).
    pub fn create_bucket(&self, name: &str) {
        let (status, body) = self.request("PUT", &format!("/{name}"), &[scope("s3")], vec![]);
        assert_eq!(status, 200, "create bucket `{name}`: {body}");
    }

    /// Writes the access key as a two-line credentials file in `dir`; returns its path.
    pub fn credentials_file(&self, dir: &Path) -> PathBuf {
        let path = dir.join("s3-credentials");
        std::fs::write(
            &path,
            format!("{}\n{}\n", self.access_key_id, self.secret_access_key),
        )
        .expect("write credentials");
        path
    }

    /// Every object key in `bucket` (path style `ListObjectsV2`, only while auth is off).
    pub fn keys(&self, bucket: &str) -> Vec<String> {
        assert!(!self.auth, "listing needs a moto without auth");
        let mut keys = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut q = format!("/{bucket}?list-type=2&max-keys=1000");
            if let Some(t) = &token {
                q.push_str(&format!("&continuation-token={}", encode(t)));
            }
            let (status, body) = self.request("GET", &q, &[scope("s3")], vec![]);
            assert_eq!(status, 200, "list {bucket}: {body}");
            keys.extend(
                body.split("<Key>")
                    .skip(1)
                    .filter_map(|p| p.split("</Key>").next())
                    .map(str::to_string),
            );
            match body.contains("<IsTruncated>true</IsTruncated>") {
                true => token = Some(xml_field(&body, "NextContinuationToken")),
                false => return keys,
            }
        }
    }

    /// moto's own log (one line per request).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("moto.log")).unwrap_or_default()
    }

    /// An IAM query call while auth is still off; returns the response body.
    fn iam(&self, params: &[(&str, &str)]) -> String {
        let mut form = String::from("Version=2010-05-08");
        for (k, v) in params {
            form.push_str(&format!("&{k}={}", encode(v)));
        }
        let (status, body) = self.request(
            "POST",
            "/",
            &[
                scope("iam"),
                (
                    "Content-Type".into(),
                    "application/x-www-form-urlencoded".into(),
                ),
            ],
            form.into_bytes(),
        );
        assert_eq!(status, 200, "moto IAM {params:?}: {body}");
        body
    }

    /// One plain HTTP/1.1 request to moto; returns the status and body.
    fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(String, String)],
        body: Vec<u8>,
    ) -> (u16, String) {
        use std::io::{Read as _, Write as _};
        let host = self.endpoint.trim_start_matches("http://");
        let mut s = TcpStream::connect(host).expect("connect to moto");
        s.set_read_timeout(Some(Duration::from_secs(30))).ok();
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {}\r\n",
            body.len()
        );
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        s.write_all(req.as_bytes()).expect("write request");
        s.write_all(&body).expect("write body");
        let mut out = Vec::new();
        s.read_to_end(&mut out).expect("read response");
        let text = String::from_utf8_lossy(&out).to_string();
        let status = text
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let body = text
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default();
        (status, body)
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A placeholder `Authorization` header whose credential scope tells moto which service a
/// request is for (it routes by it); not checked while auth is off.
fn scope(service: &str) -> (String, String) {
    (
        "Authorization".into(),
        format!(
            "AWS4-HMAC-SHA256 Credential=setup/20240101/us-east-1/{service}/aws4_request, SignedHeaders=host, Signature=0"
        ),
    )
}

fn xml_field(xml: &str, name: &str) -> String {
    xml.split(&format!("<{name}>"))
        .nth(1)
        .and_then(|r| r.split(&format!("</{name}>")).next())
        .unwrap_or_else(|| panic!("no <{name}> in {xml}"))
        .to_string()
}

fn encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
