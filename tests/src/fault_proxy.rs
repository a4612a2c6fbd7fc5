//! A fault-injecting HTTP proxy in front of a real registry, for hostile behaviour a real
//! registry does not produce: 5xx, 429 with Retry-After, dropped connections (before the
//! answer and in the middle of a body), corrupted blob bytes, and stalls.
//!
//! Every request is forwarded on its own upstream connection and answered with
//! `Connection: close`, so the proxy only has to understand one request per connection.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

/// A fault the proxy injects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// `500 Internal Server Error`.
    ServerError,
    /// `429 Too Many Requests` with `Retry-After` from the plan (1 s unless set).
    TooManyRequests,
    /// Close the connection without answering.
    DropBeforeAnswer,
    /// Forward the headers and half the body, then close.
    DropMidBody,
    /// Flip one byte of a blob body (only for `GET .../blobs/...`; others pass).
    CorruptBlob,
}

/// Which requests get which fault.
#[derive(Clone, Debug, Default)]
pub struct FaultPlan {
    /// Every `every`-th request (1-based) gets the next fault of `cycle`; 0 = never.
    pub every: usize,
    /// The faults, in turn.
    pub cycle: Vec<Fault>,
    /// Blob GETs whose body is larger than this stall forever after the headers.
    pub stall_blobs_over: Option<u64>,
    /// Only requests whose request line contains this count towards `every` (all when unset).
    pub matching: Option<String>,
    /// At most this many faults in all (unlimited when unset).
    pub limit: Option<usize>,
    /// The `Retry-After` seconds of [`Fault::TooManyRequests`] (1 when unset).
    pub retry_after_secs: Option<u64>,
}

/// One request the proxy saw.
#[derive(Clone, Debug)]
pub struct Logged {
    /// When its head arrived.
    pub at: Instant,
    /// Its request line (`PUT /v2/a/b/blobs/uploads/... HTTP/1.1`).
    pub line: String,
    /// The status answered (0 when the connection was dropped before an answer).
    pub status: u16,
}

/// A running proxy on `127.0.0.1:<port>`. Stops when dropped.
#[derive(Debug)]
pub struct FaultProxy {
    /// `127.0.0.1:<port>`.
    pub host: String,
    /// Requests seen.
    pub requests: Arc<AtomicUsize>,
    /// Faults injected.
    pub faults: Arc<AtomicUsize>,
    /// True once a stalled blob request arrived.
    pub stalled: Arc<AtomicBool>,
    /// Every request seen, in arrival order.
    pub log: Arc<Mutex<Vec<Logged>>>,
    plan: Arc<std::sync::RwLock<FaultPlan>>,
    matched: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FaultProxy {
    /// Starts a proxy to `upstream` (`host:port`, plain HTTP). Call inside a tokio runtime.
    pub async fn start(upstream: &str, plan: FaultPlan) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let host = listener.local_addr().expect("addr").to_string();
        let requests = Arc::new(AtomicUsize::new(0));
        let faults = Arc::new(AtomicUsize::new(0));
        let stalled = Arc::new(AtomicBool::new(false));
        let log = Arc::new(Mutex::new(Vec::new()));
        let matched = Arc::new(AtomicUsize::new(0));
        let (r, f, st) = (requests.clone(), faults.clone(), stalled.clone());
        let (lg, m) = (log.clone(), matched.clone());
        let upstream = upstream.to_string();
        let plan = Arc::new(std::sync::RwLock::new(plan));
        let plan2 = plan.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((conn, _)) = listener.accept().await else {
                    break;
                };
                let (r, f, st, up) = (r.clone(), f.clone(), st.clone(), upstream.clone());
                let (lg, m) = (lg.clone(), m.clone());
                let plan = plan2.read().unwrap_or_else(|p| p.into_inner()).clone();
                tokio::spawn(async move {
                    let counters = Counters {
                        requests: &r,
                        faults: &f,
                        stalled: &st,
                        matched: &m,
                        log: &lg,
                    };
                    let _ = handle(conn, &up, &plan, counters).await;
                });
            }
        });
        Self {
            host,
            requests,
            faults,
            stalled,
            log,
            plan,
            matched,
            task,
        }
    }

    /// The request lines seen, in order.
    pub fn lines(&self) -> Vec<String> {
        self.log
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|l| l.line.clone())
            .collect()
    }

    /// Replaces the plan for connections accepted from now on (and restarts its counts).
    pub fn set_plan(&self, plan: FaultPlan) {
        *self.plan.write().unwrap_or_else(|p| p.into_inner()) = plan;
        self.matched.store(0, Ordering::SeqCst);
        self.faults.store(0, Ordering::SeqCst);
    }
}

async fn read_head(conn: &mut TcpStream) -> std::io::Result<Option<Vec<u8>>> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if conn.read(&mut byte).await? == 0 {
            return Ok(None);
        }
        head.push(byte[0]);
        if head.len() > 64 << 10 {
            return Ok(None);
        }
    }
    Ok(Some(head))
}

fn header(head: &str, name: &str) -> Option<String> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().to_string())
    })
}

struct Counters<'a> {
    requests: &'a AtomicUsize,
    faults: &'a AtomicUsize,
    stalled: &'a AtomicBool,
    matched: &'a AtomicUsize,
    log: &'a Mutex<Vec<Logged>>,
}

impl Counters<'_> {
    fn record(&self, at: Instant, line: &str, status: u16) {
        self.log
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Logged {
                at,
                line: line.to_string(),
                status,
            });
    }
}

async fn handle(
    mut conn: TcpStream,
    upstream: &str,
    plan: &FaultPlan,
    c: Counters<'_>,
) -> std::io::Result<()> {
    let Some(head) = read_head(&mut conn).await? else {
        return Ok(());
    };
    let at = Instant::now();
    let head_text = String::from_utf8_lossy(&head).to_string();
    let mut body = vec![
        0u8;
        header(&head_text, "content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    ];
    conn.read_exact(&mut body).await?;
    c.requests.fetch_add(1, Ordering::SeqCst);
    let request_line = head_text.lines().next().unwrap_or_default().to_string();
    let is_blob_get = request_line.starts_with("GET ") && request_line.contains("/blobs/sha256:");
    let counts = plan
        .matching
        .as_deref()
        .is_none_or(|m| request_line.contains(m));
    let n = if counts {
        c.matched.fetch_add(1, Ordering::SeqCst) + 1
    } else {
        0
    };
    let fault =
        (counts && plan.every > 0 && n.is_multiple_of(plan.every) && !plan.cycle.is_empty())
            .then(|| plan.cycle[(n / plan.every - 1) % plan.cycle.len()]);
    let fault = match fault {
        Some(Fault::CorruptBlob) if !is_blob_get => None,
        Some(Fault::DropMidBody) if !request_line.starts_with("GET ") => None,
        Some(_)
            if plan
                .limit
                .is_some_and(|l| c.faults.load(Ordering::SeqCst) >= l) =>
        {
            None
        }
        f => f,
    };
    let (requests, faults, stalled) = (c.requests, c.faults, c.stalled);
    let _ = requests;
    if fault.is_some() {
        faults.fetch_add(1, Ordering::SeqCst);
    }
    match fault {
        Some(Fault::ServerError) => {
            c.record(at, &request_line, 500);
            conn.write_all(b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\nContent-Length: 67\r\nConnection: close\r\n\r\n{\"errors\":[{\"code\":\"UNKNOWN\",\"message\":\"injected by fault proxy\"}]}").await?;
            return Ok(());
        }
        Some(Fault::TooManyRequests) => {
            c.record(at, &request_line, 429);
            let secs = plan.retry_after_secs.unwrap_or(1);
            conn.write_all(format!("HTTP/1.1 429 Too Many Requests\r\nRetry-After: {secs}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").as_bytes()).await?;
            return Ok(());
        }
        Some(Fault::DropBeforeAnswer) => {
            c.record(at, &request_line, 0);
            return Ok(());
        }
        _ => {}
    }
    // Forward with Connection: close.
    let mut up = TcpStream::connect(upstream).await?;
    let mut fwd = String::new();
    for (i, line) in head_text.split("\r\n").enumerate() {
        if line.is_empty() {
            continue;
        }
        let lower = line.to_ascii_lowercase();
        if i > 0 && (lower.starts_with("connection:") || lower.starts_with("host:")) {
            continue;
        }
        fwd.push_str(line);
        fwd.push_str("\r\n");
        if i == 0 {
            fwd.push_str(&format!("Host: {upstream}\r\nConnection: close\r\n"));
        }
    }
    fwd.push_str("\r\n");
    up.write_all(fwd.as_bytes()).await?;
    up.write_all(&body).await?;
    let Some(resp_head) = read_head(&mut up).await? else {
        return Ok(());
    };
    let resp_text = String::from_utf8_lossy(&resp_head).to_string();
    let status = resp_text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    c.record(at, &request_line, status);
    let len: Option<u64> = header(&resp_text, "content-length").and_then(|v| v.parse().ok());
    // Rewrite Location headers that point at the upstream.
    let resp_out = resp_text.replace(upstream, &conn.local_addr()?.to_string());
    conn.write_all(resp_out.as_bytes()).await?;
    if is_blob_get
        && let (Some(limit), Some(l)) = (plan.stall_blobs_over, len)
        && l > limit
    {
        stalled.store(true, Ordering::SeqCst);
        let mut chunk = vec![0u8; 64 << 10];
        let n = up.read(&mut chunk).await?;
        conn.write_all(&chunk[..n]).await?;
        tokio::time::sleep(Duration::from_secs(3600)).await;
        return Ok(());
    }
    let mut sent = 0u64;
    let mut buf = vec![0u8; 64 << 10];
    let mut corrupted = false;
    loop {
        let n = up.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        if fault == Some(Fault::DropMidBody) && sent + n as u64 > len.unwrap_or(0) / 2 {
            let keep = (len.unwrap_or(0) / 2).saturating_sub(sent) as usize;
            conn.write_all(&buf[..keep.min(n)]).await?;
            return Ok(());
        }
        if fault == Some(Fault::CorruptBlob) && !corrupted {
            buf[n / 2] ^= 0xff;
            corrupted = true;
        }
        conn.write_all(&buf[..n]).await?;
        sent += n as u64;
    }
    Ok(())
}
