//! An upgrade graph server on loopback, answering as the Cincinnati policy engine behind
//! `api.openshift.com/api/upgrades_info/v1/graph` (and an OpenShift Update Service) does,
//! after `openshift/cincinnati`: `GET <path>?channel=C&arch=A` with an `Accept` that allows
//! `application/json` gets the nodes whose `io.openshift.upgrades.graph.release.channels`
//! lists `C` (an unknown channel gets an empty graph, as there), the edges and conditional
//! edges between them; errors are `{kind, value}` JSON with the same statuses and kinds
//! (`missing_params`, `invalid_params` 400, `invalid_content_type` 406, an unknown path 404).
//!
//! No real graph server is packaged for Debian or PyPI, so this one is written to the
//! documented behaviour; it is built on no mirrorctl code, so it checks mirrorctl's reading
//! of the graph independently.

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

/// The path the server answers on, the public endpoint's.
pub const GRAPH_PATH: &str = "/api/upgrades_info/v1/graph";
const CHANNELS_KEY: &str = "io.openshift.upgrades.graph.release.channels";
const ARCH_KEY: &str = "release.openshift.io/architecture";

/// A request the server received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GraphRequest {
    /// The path, without the query.
    pub path: String,
    /// The query parameters, in order.
    pub query: Vec<(String, String)>,
    /// The `Accept` header, if sent.
    pub accept: Option<String>,
}

/// A running graph server on `127.0.0.1:<port>`; stopped on drop.
#[derive(Debug)]
pub struct GraphServer {
    /// `http://127.0.0.1:<port>/api/upgrades_info/v1/graph`.
    pub url: String,
    requests: Arc<Mutex<Vec<GraphRequest>>>,
    failures: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    port: u16,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for GraphServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl GraphServer {
    /// Serves `graph` (a whole graph: nodes list their channels in their metadata). Needs no
    /// async runtime.
    pub fn start(graph: Value) -> Self {
        let port = crate::free_port();
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind the graph server");
        let requests = Arc::new(Mutex::new(Vec::new()));
        let failures = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (reqs, fails, stopped) = (requests.clone(), failures.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stopped.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                serve(conn, &graph, &reqs, &fails);
            }
        });
        Self {
            url: format!("http://127.0.0.1:{port}{GRAPH_PATH}"),
            requests,
            failures,
            stop,
            port,
            thread: Some(thread),
        }
    }

    /// The requests received so far.
    pub fn requests(&self) -> Vec<GraphRequest> {
        self.requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The server's answer for `channel` and `arch`, as a site would save it with `curl -H
    /// 'Accept: application/json' ...` (a plain HTTP/1.1 GET; the request is recorded too).
    pub fn get(&self, channel: &str, arch: &str) -> Vec<u8> {
        let mut conn = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        write!(
            conn,
            "GET {GRAPH_PATH}?channel={channel}&arch={arch} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\nConnection: close\r\n\r\n"
        )
        .expect("send");
        let mut resp = Vec::new();
        conn.read_to_end(&mut resp).expect("read");
        let split = resp
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("a response head");
        assert!(
            resp.starts_with(b"HTTP/1.1 200 "),
            "{}",
            String::from_utf8_lossy(&resp)
        );
        resp[split + 4..].to_vec()
    }

    /// Answers the next `n` requests as the policy engine does when its graph builder fails:
    /// `500` with `{"kind":"failed_upstream_fetch",...}`.
    pub fn fail_next(&self, n: usize) {
        self.failures.store(n, Ordering::SeqCst);
    }
}

fn serve(mut conn: TcpStream, graph: &Value, reqs: &Mutex<Vec<GraphRequest>>, fails: &AtomicUsize) {
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 16 << 10 {
        match conn.read(&mut b) {
            Ok(1) => head.push(b[0]),
            _ => return,
        }
    }
    let text = String::from_utf8_lossy(&head).to_string();
    let target = text.split_whitespace().nth(1).unwrap_or("/").to_string();
    let accept = text.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case("accept")
            .then(|| v.trim().to_string())
    });
    let url = url::Url::parse(&format!("http://x{target}")).expect("request target");
    let query: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    reqs.lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(GraphRequest {
            path: url.path().to_string(),
            query: query.clone(),
            accept: accept.clone(),
        });
    let (status, body) = if fails
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
    {
        (
            500,
            json!({"kind": "failed_upstream_fetch", "value": "failed to fetch upstream graph: upstream timed out"}).to_string(),
        )
    } else {
        answer(graph, url.path(), &query, accept.as_deref())
    };
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        406 => "Not Acceptable",
        _ => "Internal Server Error",
    };
    let response = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = conn.write_all(response.as_bytes());
}

/// The status and body the policy engine answers.
fn answer(
    graph: &Value,
    path: &str,
    query: &[(String, String)],
    accept: Option<&str>,
) -> (u16, String) {
    let error = |status: u16, kind: &str, value: String| {
        (status, json!({ "kind": kind, "value": value }).to_string())
    };
    if path != GRAPH_PATH {
        return (404, String::new());
    }
    if let Some(a) = accept
        && !a.split(',').any(|m| {
            let m = m.split(';').next().unwrap_or("").trim();
            matches!(m, "application/json" | "application/*" | "*/*")
        })
    {
        return error(
            406,
            "invalid_content_type",
            "invalid Content-Type requested".into(),
        );
    }
    let param = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let Some(channel) = param("channel") else {
        return error(
            400,
            "missing_params",
            "mandatory client parameters missing: channel".into(),
        );
    };
    let valid = |s: &str, extra: &[char]| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || extra.contains(&c))
    };
    if !valid(&channel, &['-', '.']) {
        return error(
            400,
            "invalid_params",
            format!(
                "invalid client parameters: channel '{channel}' does not match regex '^[0-9a-z\\-\\.]+$'"
            ),
        );
    }
    let arch = param("arch").unwrap_or_else(|| "amd64".into());
    if !valid(&arch, &[]) {
        return error(
            400,
            "invalid_params",
            format!("invalid client parameters: arch '{arch}' does not match regex '^[0-9a-z]+$'"),
        );
    }
    (200, channel_view(graph, &channel, &arch).to_string())
}

/// The nodes of `channel` and `arch` (a node without an architecture is `amd64`), the edges
/// between them re-indexed, the conditional edges between them.
fn channel_view(graph: &Value, channel: &str, arch: &str) -> Value {
    let empty = Vec::new();
    let nodes = graph["nodes"].as_array().unwrap_or(&empty);
    let mut index = vec![None; nodes.len()];
    let mut kept = Vec::new();
    for (i, n) in nodes.iter().enumerate() {
        let md = &n["metadata"];
        let in_channel = md[CHANNELS_KEY]
            .as_str()
            .is_some_and(|c| c.split(',').any(|x| x.trim() == channel));
        let node_arch = md[ARCH_KEY].as_str().unwrap_or("amd64");
        if in_channel && node_arch == arch {
            index[i] = Some(kept.len());
            kept.push(n.clone());
        }
    }
    let edges: Vec<Value> = graph["edges"]
        .as_array()
        .unwrap_or(&empty)
        .iter()
        .filter_map(|e| {
            let a = index[usize::try_from(e[0].as_u64()?).ok()?]?;
            let b = index[usize::try_from(e[1].as_u64()?).ok()?]?;
            Some(json!([a, b]))
        })
        .collect();
    let versions: Vec<&str> = kept.iter().filter_map(|n| n["version"].as_str()).collect();
    let conditional: Vec<Value> = graph["conditionalEdges"]
        .as_array()
        .unwrap_or(&empty)
        .iter()
        .filter_map(|ce| {
            let edges: Vec<Value> = ce["edges"]
                .as_array()?
                .iter()
                .filter(|e| {
                    versions.contains(&e["from"].as_str().unwrap_or(""))
                        && versions.contains(&e["to"].as_str().unwrap_or(""))
                })
                .cloned()
                .collect();
            (!edges.is_empty()).then(|| json!({ "edges": edges, "risks": ce["risks"] }))
        })
        .collect();
    json!({ "nodes": kept, "edges": edges, "conditionalEdges": conditional })
}

/// The release image the synthetic fixture pushes for `version` to `registry`
/// (`<registry>/openshift-release-dev/ocp-release:<version>-x86_64`), for graph payloads.
pub fn fixture_payload(registry: &str, version: &str) -> String {
    format!("{registry}/openshift-release-dev/ocp-release:{version}-x86_64")
}

/// A graph of `nodes` (`(version, payload, "channel,channel")`), `edges` as version pairs and
/// conditional edges as `(from, to, risk name)`, in the graph API's JSON.
pub fn graph(
    nodes: &[(&str, &str, &str)],
    edges: &[(&str, &str)],
    conditional: &[(&str, &str, &str)],
) -> Value {
    let idx = |v: &str| {
        nodes
            .iter()
            .position(|n| n.0 == v)
            .unwrap_or_else(|| panic!("no node {v}"))
    };
    json!({
        "nodes": nodes.iter().map(|(v, p, c)| json!({
            "version": v, "payload": p,
            "metadata": { (CHANNELS_KEY): c, "url": format!("https://access.redhat.com/errata/{v}") },
        })).collect::<Vec<_>>(),
        "edges": edges.iter().map(|(a, b)| json!([idx(a), idx(b)])).collect::<Vec<_>>(),
        "conditionalEdges": conditional.iter().map(|(a, b, risk)| json!({
            "edges": [{ "from": a, "to": b }],
            "risks": [{
                "url": format!("https://issues.redhat.com/browse/{risk}"),
                "name": risk,
                "message": format!("{risk} may break the update"),
                "matchingRules": [{ "type": "PromQL", "promql": { "promql": "max(cluster_infrastructure_provider{type=\"AWS\"})" } }],
            }],
        })).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_as_the_policy_engine() {
        let g = graph(
            &[
                ("4.14.1", "q/r:1", "stable-4.14"),
                ("4.14.2", "q/r:2", "stable-4.14,fast-4.14"),
            ],
            &[("4.14.1", "4.14.2")],
            &[("4.14.1", "4.14.2", "BugA")],
        );
        let q = |c: &str| {
            vec![
                ("channel".to_string(), c.to_string()),
                ("arch".into(), "amd64".into()),
            ]
        };
        let (s, b) = answer(&g, GRAPH_PATH, &q("fast-4.14"), Some("application/json"));
        let v: Value = serde_json::from_str(&b).unwrap();
        assert_eq!((s, v["nodes"].as_array().unwrap().len()), (200, 1));
        assert_eq!(v["edges"], json!([]));
        assert_eq!(v["conditionalEdges"], json!([]));
        let (_, b) = answer(&g, GRAPH_PATH, &q("stable-4.14"), None);
        let v: Value = serde_json::from_str(&b).unwrap();
        assert_eq!(v["edges"], json!([[0, 1]]));
        assert_eq!(v["conditionalEdges"][0]["risks"][0]["name"], "BugA");
        let (s, b) = answer(&g, GRAPH_PATH, &q("nope-4.1"), None);
        assert_eq!((s, b.contains("\"nodes\":[]")), (200, true));
        assert_eq!(answer(&g, GRAPH_PATH, &q("Bad"), None).0, 400);
        assert_eq!(
            answer(&g, GRAPH_PATH, &[], None).1,
            r#"{"kind":"missing_params","value":"mandatory client parameters missing: channel"}"#
        );
        assert_eq!(
            answer(&g, GRAPH_PATH, &q("fast-4.14"), Some("text/html")).0,
            406
        );
        assert_eq!(answer(&g, "/graph", &q("fast-4.14"), None).0, 404);
    }
}
