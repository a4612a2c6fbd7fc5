//! A signature store on loopback: a small HTTP/1.1 file server over a directory laid out as
//! `sha256=<hex>/signature-N` (what mirror.openshift.com serves), answering 200 with the file
//! or 404. It records the paths asked for, so a test can tell whether anything was fetched.

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// A running store; stopped on drop.
#[derive(Debug)]
pub struct SignatureServer {
    /// The store URL, `http://127.0.0.1:<port>`.
    pub url: String,
    /// The directory served.
    pub dir: PathBuf,
    port: u16,
    stop: Arc<AtomicBool>,
    requests: Arc<Mutex<Vec<String>>>,
    thread: Option<JoinHandle<()>>,
}

impl SignatureServer {
    /// Serves `dir` on a free loopback port, in a thread.
    pub fn start(dir: &Path) -> Self {
        let port = crate::free_port();
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind the signature store");
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (d, s, r) = (dir.to_path_buf(), stop.clone(), requests.clone());
        let thread = std::thread::spawn(move || serve(&listener, &d, &s, &r));
        Self {
            url: format!("http://127.0.0.1:{port}"),
            dir: dir.to_path_buf(),
            port,
            stop,
            requests,
            thread: Some(thread),
        }
    }

    /// Serves `dir` on `port` until the process is killed (`mirror-fixture serve-signatures`).
    pub fn run_forever(dir: &Path, port: u16) -> std::io::Result<()> {
        let listener = TcpListener::bind(("127.0.0.1", port))?;
        serve(
            &listener,
            dir,
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

fn serve(listener: &TcpListener, dir: &Path, stop: &AtomicBool, log: &Mutex<Vec<String>>) {
    for conn in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(conn) = conn else { continue };
        if let Some(path) = answer(conn, dir) {
            log.lock().unwrap_or_else(|p| p.into_inner()).push(path);
        }
    }
}

/// Reads one request and answers it; returns the path asked for.
fn answer(mut conn: TcpStream, dir: &Path) -> Option<String> {
    let mut reader = BufReader::new(conn.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next()?, parts.next()?.to_string());
    // Drain the headers.
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).ok()? == 0 || h == "\r\n" || h == "\n" {
            break;
        }
    }
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
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = conn.write_all(head.as_bytes());
    let _ = conn.write_all(&body);
    let _ = conn.flush();
    Some(path)
}
