//! Where the upgrade graph comes from: the graph API over HTTP(S), a saved graph file, or a
//! directory of saved graphs (a bundle's `graph/`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use super::graph::Graph;
use crate::error::Error;
use crate::hint::Hint;
use crate::registry::{RetryPolicy, cert_problem, error_chain, retrying};

/// The public graph API (OpenShift Container Platform), as oc-mirror and the cluster-version
/// operator use it.
pub const DEFAULT_GRAPH_URL: &str = "https://api.openshift.com/api/upgrades_info/v1/graph";
/// The default architecture asked of the graph.
pub const DEFAULT_ARCH: &str = "amd64";
/// The largest graph accepted (a real channel's graph is a few MiB).
const MAX_GRAPH_BYTES: usize = 64 << 20;

/// Where graphs are read from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GraphSource {
    /// A graph API endpoint; `channel` and `arch` are added to its query.
    Url(url::Url),
    /// A saved graph: one Cincinnati JSON file, a server's response or a whole graph; its
    /// nodes are filtered by the channels their metadata lists.
    File(PathBuf),
    /// A directory of saved graphs named `<arch>-<channel>.json` (what a bundle's `graph/`
    /// holds; a bundle's own directory is read as its `graph/`).
    Dir(PathBuf),
}

impl Default for GraphSource {
    fn default() -> Self {
        GraphSource::Url(url::Url::parse(DEFAULT_GRAPH_URL).expect("a valid URL"))
    }
}

impl std::fmt::Display for GraphSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GraphSource::Url(u) => write!(f, "{u}"),
            GraphSource::File(p) | GraphSource::Dir(p) => write!(f, "{}", p.display()),
        }
    }
}

impl GraphSource {
    /// `http://` or `https://` is a graph API; anything else is a path: a directory of
    /// `<arch>-<channel>.json` files, or one file. A path that does not exist is an error.
    pub fn parse(input: &str) -> Result<Self, Error> {
        let bad = |reason: String| Error::InvalidSetting {
            name: "graph".into(),
            reason,
        };
        if let Some((scheme, _)) = input.split_once("://") {
            if !matches!(scheme, "http" | "https") {
                return Err(bad(format!(
                    "`{input}`: a graph is read over `http://` or `https://`, or from a file path"
                )));
            }
            let url = url::Url::parse(input).map_err(|e| bad(format!("`{input}`: {e}")))?;
            return Ok(GraphSource::Url(url));
        }
        let path = PathBuf::from(input);
        let meta =
            std::fs::metadata(&path).map_err(|e| Error::io("read upgrade graph", &path, e))?;
        Ok(if meta.is_dir() {
            // A bundle's directory stands for the graphs it saved.
            let saved = path.join(crate::bundle::GRAPH_DIR);
            if path.join(crate::bundle::METADATA_FILE).is_file() && saved.is_dir() {
                GraphSource::Dir(saved)
            } else {
                GraphSource::Dir(path)
            }
        } else {
            GraphSource::File(path)
        })
    }
}

/// Settings for a [`GraphClient`].
#[derive(Clone, Debug)]
pub struct GraphOptions {
    /// Extra trusted CA certificates (PEM), added to the system roots (a proxy that inspects
    /// TLS, an Update Service with a private CA). Proxies come from `HTTPS_PROXY`,
    /// `HTTP_PROXY` and `NO_PROXY`.
    pub ca_pems: Vec<Vec<u8>>,
    /// Retries of connection failures, `408`, `429` and `5xx`. Default: 4 tries in all.
    pub retry: RetryPolicy,
}

impl Default for GraphOptions {
    fn default() -> Self {
        Self {
            ca_pems: Vec::new(),
            retry: RetryPolicy {
                max_tries: 4,
                ..RetryPolicy::default()
            },
        }
    }
}

/// The graph of one channel and architecture, and where it came from.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChannelGraph {
    /// The channel.
    pub channel: String,
    /// The architecture.
    pub arch: String,
    /// The URL with its query, or the file read.
    pub origin: String,
    /// The channel's part of the graph.
    #[serde(skip)]
    pub graph: Graph,
    /// The JSON to keep beside a mirror so the far side can show the same plan: the server's
    /// bytes unchanged, or the channel's part of a saved file.
    #[serde(skip)]
    pub json: Vec<u8>,
}

impl ChannelGraph {
    /// `<arch>-<channel>.json`, the name oc-mirror and a bundle's `graph/` use.
    pub fn file_name(&self) -> String {
        graph_file_name(&self.arch, &self.channel)
    }
}

/// `<arch>-<channel>.json`.
pub fn graph_file_name(arch: &str, channel: &str) -> String {
    format!("{arch}-{channel}.json")
}

/// Reads graphs from a [`GraphSource`].
#[derive(Clone, Debug)]
pub struct GraphClient {
    source: GraphSource,
    http: Option<reqwest::Client>,
    retry: RetryPolicy,
}

impl GraphClient {
    /// A client for `source`. Fails on an unusable CA certificate.
    pub fn new(source: GraphSource, opts: GraphOptions) -> Result<Self, Error> {
        let http = match &source {
            GraphSource::Url(_) => Some(http_client(&opts.ca_pems)?),
            _ => None,
        };
        Ok(Self {
            source,
            http,
            retry: opts.retry,
        })
    }

    /// Where graphs come from.
    pub fn source(&self) -> &GraphSource {
        &self.source
    }

    /// The graph of `channel` for `arch`. A channel without any release is an error naming
    /// it (a graph server answers an unknown channel with an empty graph).
    pub async fn channel(&self, channel: &str, arch: &str) -> Result<ChannelGraph, Error> {
        check_channel_name(channel)?;
        check_arch(arch, channel)?;
        let (origin, graph, json, known) = match &self.source {
            GraphSource::Url(base) => {
                let url = graph_url(base, channel, arch);
                let body = self.get(&url).await?;
                let graph = Graph::parse(&body, url.as_str())?;
                (url.to_string(), graph, body, Vec::new())
            }
            GraphSource::File(path) => {
                let (origin, whole) = read_graph_file(path).await?;
                let graph = whole.for_channel(channel);
                let json = graph.to_json();
                (origin, graph, json, whole.channels())
            }
            GraphSource::Dir(dir) => {
                let path = dir.join(graph_file_name(arch, channel));
                if !tokio::fs::try_exists(&path).await.unwrap_or(false) {
                    return Err(Error::GraphFetch {
                        origin: path.display().to_string(),
                        status: None,
                        reason: format!(
                            "no saved graph for channel `{channel}` and architecture `{arch}` in `{}`",
                            dir.display()
                        ),
                        hint: Box::new(Hint::CheckChannel {
                            channel: channel.into(),
                            arch: arch.into(),
                            known: saved_channels(dir, arch),
                        }),
                    });
                }
                let (origin, whole) = read_graph_file(&path).await?;
                let graph = whole.for_channel(channel);
                let json = graph.to_json();
                (origin, graph, json, whole.channels())
            }
        };
        if graph.nodes.is_empty() {
            let reason = match &self.source {
                GraphSource::Url(_) => format!(
                    "the graph `{origin}` has no release in this channel for architecture `{arch}`"
                ),
                _ => format!("no node of `{origin}` lists this channel"),
            };
            return Err(Error::Channel {
                channel: channel.into(),
                reason,
                hint: Box::new(Hint::CheckChannel {
                    channel: channel.into(),
                    arch: arch.into(),
                    known,
                }),
            });
        }
        Ok(ChannelGraph {
            channel: channel.into(),
            arch: arch.into(),
            origin,
            graph,
            json,
        })
    }

    /// GETs the graph with `Accept: application/json`, retrying transient failures with the
    /// one retry loop the registry client uses.
    async fn get(&self, url: &url::Url) -> Result<Vec<u8>, Error> {
        let http = self.http.as_ref().expect("a URL source has a client");
        let target = url.to_string();
        let result = retrying(&self.retry, None, "get upgrade graph", &target, || async {
            let resp = http
                .get(url.clone())
                .header(reqwest::header::ACCEPT, "application/json")
                .send()
                .await
                .map_err(|e| Error::Connection {
                    op: "get upgrade graph",
                    target: target.clone(),
                    tries: 1,
                    detail: error_chain(&e),
                    cert: cert_problem(&e),
                })?;
            let status = resp.status().as_u16();
            if status == 200 {
                return read_capped(resp, url).await;
            }
            let retry_after = resp
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u32>().ok());
            let body = read_capped(resp, url).await.unwrap_or_default();
            // The body is kept whole (it is small) so the answer can be quoted.
            Err(Error::Registry {
                op: "get upgrade graph",
                target: target.clone(),
                status,
                code: None,
                message: Some(String::from_utf8_lossy(&body).into_owned()),
                tries: 1,
                auth_entry: None,
                retry_after,
            })
        })
        .await;
        result.map_err(|e| match e {
            Error::Registry {
                status,
                message,
                tries,
                ..
            } => server_error(url, status, message.unwrap_or_default().as_bytes(), tries),
            Error::Connection {
                cert: None,
                tries,
                detail,
                ..
            } => connection_error(url, tries, &detail),
            e => e,
        })
    }
}

/// The graph API URL for a channel: the base URL's own query kept, `channel` and `arch` set.
pub(crate) fn graph_url(base: &url::Url, channel: &str, arch: &str) -> url::Url {
    let mut url = base.clone();
    let kept: Vec<(String, String)> = base
        .query_pairs()
        .filter(|(k, _)| k != "channel" && k != "arch")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    url.query_pairs_mut()
        .clear()
        .extend_pairs(kept)
        .append_pair("channel", channel)
        .append_pair("arch", arch);
    url
}

async fn read_capped(mut resp: reqwest::Response, url: &url::Url) -> Result<Vec<u8>, Error> {
    let mut body = Vec::new();
    loop {
        match resp.chunk().await {
            Ok(Some(c)) => {
                if body.len() + c.len() > MAX_GRAPH_BYTES {
                    return Err(Error::GraphInvalid {
                        origin: url.to_string(),
                        reason: format!("larger than {} MiB", MAX_GRAPH_BYTES >> 20),
                    });
                }
                body.extend_from_slice(&c);
            }
            Ok(None) => return Ok(body),
            Err(e) => {
                return Err(Error::Connection {
                    op: "get upgrade graph",
                    target: url.to_string(),
                    tries: 1,
                    detail: error_chain(&e),
                    cert: None,
                });
            }
        }
    }
}

/// A failed connection (not a refused certificate, which keeps its own error and hint): the
/// graph could not be reached, and how to do without it.
fn connection_error(url: &url::Url, tries: u32, detail: &str) -> Error {
    Error::GraphFetch {
        origin: url.to_string(),
        status: None,
        reason: format!(
            "connection failed after {tries} {}: {detail}",
            if tries == 1 { "try" } else { "tries" },
        ),
        hint: Box::new(Hint::GraphUnavailable {
            url: url.to_string(),
        }),
    }
}

/// A graph server's error answer, quoting its `{kind, value}` when it sent one.
pub(crate) fn server_error(url: &url::Url, status: u16, body: &[u8], tries: u32) -> Error {
    #[derive(serde::Deserialize)]
    struct GraphError {
        kind: String,
        value: String,
    }
    let quoted = match serde_json::from_slice::<GraphError>(body) {
        Ok(e) => format!(": {}: {}", e.kind, e.value),
        Err(_) => {
            let text: String = String::from_utf8_lossy(body)
                .chars()
                .take(200)
                .collect::<String>()
                .trim()
                .to_string();
            if text.is_empty() {
                String::new()
            } else {
                format!(": {text}")
            }
        }
    };
    let channel = url
        .query_pairs()
        .find(|(k, _)| k == "channel")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    let arch = url
        .query_pairs()
        .find(|(k, _)| k == "arch")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    let hint = match status {
        400 => Hint::CheckChannel {
            channel,
            arch,
            known: Vec::new(),
        },
        404..=406 => Hint::GraphUrl,
        _ => Hint::GraphUnavailable {
            url: url.to_string(),
        },
    };
    let after = if tries > 1 {
        format!(" (after {tries} tries)")
    } else {
        String::new()
    };
    Error::GraphFetch {
        origin: url.to_string(),
        status: Some(status),
        reason: format!("the server answered {status}{quoted}{after}"),
        hint: Box::new(hint),
    }
}

async fn read_graph_file(path: &Path) -> Result<(String, Graph), Error> {
    let bytes = tokio::fs::read(path)
        .await
        .map_err(|e| Error::io("read upgrade graph", path, e))?;
    let origin = path.display().to_string();
    let graph = Graph::parse(&bytes, &origin)?;
    Ok((origin, graph))
}

/// The channels of the `<arch>-<channel>.json` files in `dir`.
fn saved_channels(dir: &Path, arch: &str) -> Vec<String> {
    let prefix = format!("{arch}-");
    let mut out: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().into_string().ok())
                .filter_map(|n| {
                    n.strip_prefix(&prefix)?
                        .strip_suffix(".json")
                        .map(str::to_string)
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// The graph API's own rule for channel names (`^[0-9a-z\-\.]+$`), checked before asking.
pub(crate) fn check_channel_name(channel: &str) -> Result<(), Error> {
    let ok = !channel.is_empty()
        && channel
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.');
    if ok {
        return Ok(());
    }
    Err(Error::Channel {
        channel: channel.into(),
        reason: "not a channel name: channel names are lowercase letters, digits, `-` and `.`"
            .into(),
        hint: Box::new(Hint::CheckChannel {
            channel: channel.into(),
            arch: DEFAULT_ARCH.into(),
            known: Vec::new(),
        }),
    })
}

/// The graph API's rule for architectures (`^[0-9a-z]+$`).
fn check_arch(arch: &str, channel: &str) -> Result<(), Error> {
    if !arch.is_empty()
        && arch
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    {
        return Ok(());
    }
    Err(Error::Channel {
        channel: channel.into(),
        reason: format!("`{arch}` is not an architecture the graph knows"),
        hint: Box::new(Hint::CheckChannel {
            channel: channel.into(),
            arch: arch.into(),
            known: Vec::new(),
        }),
    })
}

/// The graph's name for an architecture: `x86_64` and `aarch64` (the names in release tags)
/// become `amd64` and `arm64`; other names are kept.
pub fn graph_arch(arch: &str) -> String {
    match arch {
        "x86_64" => "amd64".into(),
        "aarch64" => "arm64".into(),
        other => other.to_string(),
    }
}

fn http_client(ca_pems: &[Vec<u8>]) -> Result<reqwest::Client, Error> {
    let mut certs = Vec::new();
    for pem in ca_pems {
        let bundle = reqwest::Certificate::from_pem_bundle(pem).map_err(|e| Error::TlsSetup {
            reason: format!("CA bundle does not parse: {e}"),
        })?;
        if bundle.is_empty() {
            return Err(Error::TlsSetup {
                reason: "CA file holds no PEM certificate".into(),
            });
        }
        certs.extend(bundle);
    }
    reqwest::Client::builder()
        .user_agent(concat!("mirrorctl/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(30))
        .read_timeout(Duration::from_secs(300))
        .tls_certs_merge(certs)
        .build()
        .map_err(|e| Error::TlsSetup {
            reason: error_chain(&e),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_keeps_its_query_and_sets_channel_and_arch() {
        let base = url::Url::parse("https://osus.example/api/graph?id=x&channel=old").unwrap();
        assert_eq!(
            graph_url(&base, "stable-4.14", "amd64").as_str(),
            "https://osus.example/api/graph?id=x&channel=stable-4.14&arch=amd64"
        );
        let base = url::Url::parse(DEFAULT_GRAPH_URL).unwrap();
        assert_eq!(
            graph_url(&base, "fast-4.15", "multi").as_str(),
            "https://api.openshift.com/api/upgrades_info/v1/graph?channel=fast-4.15&arch=multi"
        );
    }

    #[test]
    fn server_errors_quote_kind_and_value() {
        let url = url::Url::parse("https://g.example/graph?channel=Stable&arch=amd64").unwrap();
        let e = server_error(
            &url,
            400,
            br#"{"kind":"invalid_params","value":"invalid client parameters: channel 'Stable' does not match regex '^[0-9a-z\\-\\.]+$'"}"#,
            1,
        );
        assert_eq!(
            e.to_string(),
            "upgrade graph `https://g.example/graph?channel=Stable&arch=amd64`: the server answered 400: invalid_params: invalid client parameters: channel 'Stable' does not match regex '^[0-9a-z\\-\\.]+$'"
        );
        assert!(
            matches!(e.hint(), Some(Hint::CheckChannel { channel, .. }) if channel == "Stable")
        );
        let e = server_error(&url, 503, b"<html>busy</html>\n", 4);
        assert_eq!(
            e.to_string(),
            "upgrade graph `https://g.example/graph?channel=Stable&arch=amd64`: the server answered 503: <html>busy</html> (after 4 tries)"
        );
        assert!(matches!(e.hint(), Some(Hint::GraphUnavailable { .. })));
        let e = server_error(&url, 404, b"", 1);
        assert!(e.to_string().ends_with("the server answered 404"), "{e}");
        assert_eq!(e.hint(), Some(Hint::GraphUrl));
    }

    #[test]
    fn sources_by_form() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("g.json");
        std::fs::write(&file, "{}").unwrap();
        let table = [
            (
                "https://g.example/graph".to_string(),
                Ok(GraphSource::Url(
                    url::Url::parse("https://g.example/graph").unwrap(),
                )),
            ),
            (
                file.display().to_string(),
                Ok(GraphSource::File(file.clone())),
            ),
            (
                dir.path().display().to_string(),
                Ok(GraphSource::Dir(dir.path().to_path_buf())),
            ),
            (
                "ftp://g.example/graph".to_string(),
                Err("invalid setting `graph`: `ftp://g.example/graph`: a graph is read over `http://` or `https://`, or from a file path".to_string()),
            ),
            (
                dir.path().join("missing.json").display().to_string(),
                Err(format!(
                    "read upgrade graph `{}`: No such file or directory (os error 2)",
                    dir.path().join("missing.json").display()
                )),
            ),
        ];
        for (input, want) in table {
            let got = GraphSource::parse(&input).map_err(|e| crate::ErrorChain(&e).to_string());
            assert_eq!(got, want, "{input}");
        }
        assert_eq!(GraphSource::default().to_string(), DEFAULT_GRAPH_URL);
    }

    #[test]
    fn names_are_checked_before_asking() {
        for ok in ["stable-4.14", "eus-4.16", "candidate-4.18.0"] {
            check_channel_name(ok).unwrap();
        }
        for bad in ["Stable-4.14", "stable_4.14", "", "fast 4.15"] {
            let e = check_channel_name(bad).unwrap_err();
            assert!(e.to_string().contains("not a channel name"), "{e}");
        }
        assert_eq!(graph_arch("x86_64"), "amd64");
        assert_eq!(graph_arch("aarch64"), "arm64");
        assert_eq!(graph_arch("s390x"), "s390x");
        assert!(check_arch("x86-64", "c").is_err());
    }
}
