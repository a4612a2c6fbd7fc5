//! A signature store on loopback: a small HTTP/1.1 file server (plain, or TLS with a throwaway
//! CA) over a directory laid out as `sha256=<hex>/signature-N` (what mirror.openshift.com
//! serves), answering 200 with the file or 404. It records the paths asked for, so a test can
//! tell whether anything was fetched.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// A running store; stopped on drop.
#[derive(Debug)]
pub struct SignatureServer {
    /// The store URL, `http://127.0.0.1:<port>` (or `https://`).
    pub url: String,
    /// The directory served.
    pub dir: PathBuf,
    /// With TLS: the CA that signed the server certificate (PEM).
    pub ca_pem: Option<String>,
    port: u16,
    stop: Arc<AtomicBool>,
    requests: Arc<Mutex<Vec<String>>>,
    thread: Option<JoinHandle<()>>,
}

type Tls = Option<Arc<rustls::ServerConfig>>;

impl SignatureServer {
    /// Serves `dir` over plain HTTP on a free loopback port, in a thread.
    pub fn start(dir: &Path) -> Self {
        Self::spawn(dir, None, None)
    }

    /// Serves `dir` over HTTPS with a certificate for `127.0.0.1` from a throwaway CA
    /// ([`Self::ca_pem`]).
    pub fn start_tls(dir: &Path) -> Self {
        let (ca, chain, key) = crate::registry::throwaway_pki(crate::CertVariant::Valid);
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(chain.as_bytes())
            .collect::<Result<_, _>>()
            .expect("leaf chain");
        let key = PrivateKeyDer::from_pem_slice(key.as_bytes()).expect("leaf key");
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .expect("server certificate");
        Self::spawn(dir, Some(Arc::new(config)), Some(ca))
    }

    fn spawn(dir: &Path, tls: Tls, ca_pem: Option<String>) -> Self {
        let port = crate::free_port();
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind the signature store");
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (d, s, r) = (dir.to_path_buf(), stop.clone(), requests.clone());
        let scheme = if tls.is_some() { "https" } else { "http" };
        let thread = std::thread::spawn(move || serve(&listener, &d, &tls, &s, &r));
        Self {
            url: format!("{scheme}://127.0.0.1:{port}"),
            dir: dir.to_path_buf(),
            ca_pem,
            port,
            stop,
            requests,
            thread: Some(thread),
        }
    }

    /// Serves `dir` over plain HTTP on `port` until the process is killed
    /// (`mirror-fixture serve-signatures`).
    pub fn run_forever(dir: &Path, port: u16) -> std::io::Result<()> {
        let listener = TcpListener::bind(("127.0.0.1", port))?;
        serve(
            &listener,
            dir,
            &None,
            &AtomicBool::new(false),
            &Mutex::new(Vec::new()),
        );
        Ok(())
    }

    /// The paths asked for so far, in order.
    pub fn requests(&self) -> Vec<String> {
        self.requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

impl Drop for SignatureServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(
    listener: &TcpListener,
    dir: &Path,
    tls: &Tls,
    stop: &AtomicBool,
    log: &Mutex<Vec<String>>,
) {
    for conn in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(conn) = conn else { continue };
        let path = match tls {
            None => answer(conn, dir),
            Some(config) => match rustls::ServerConnection::new(config.clone()) {
                Ok(session) => answer(rustls::StreamOwned::new(session, conn), dir),
                Err(_) => None,
            },
        };
        if let Some(path) = path {
            log.lock().unwrap_or_else(|p| p.into_inner()).push(path);
        }
    }
}

/// Reads one request and answers it; returns the path asked for.
fn answer(mut conn: impl Read + Write, dir: &Path) -> Option<String> {
    // The request head, up to the blank line (requests here have no body).
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 16 << 10 {
        if conn.read(&mut byte).ok()? == 0 {
            return None;
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head);
    let mut parts = head.split_whitespace();
    let (method, path) = (parts.next()?, parts.next()?.to_string());
    let rel = path.trim_start_matches('/');
    let body = if method == "GET" && !rel.split('/').any(|s| s == ".." || s.is_empty()) {
        std::fs::read(dir.join(rel)).ok()
    } else {
        None
    };
    let (status, body) = match body {
        Some(b) => ("200 OK", b),
        None => ("404 Not Found", b"not found\n".to_vec()),
    };
    let reply = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = conn.write_all(reply.as_bytes());
    let _ = conn.write_all(&body);
    let _ = conn.flush();
    Some(path)
}
