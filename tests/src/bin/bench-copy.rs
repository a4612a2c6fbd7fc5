//! `bench-copy`: the minimal client of the speed benchmark (`bench/speed.sh`).
//!
//! ```text
//! bench-copy --jobs FILE [-a AUTH_JSON] [--ca-file PEM]... [--insecure-registry HOST]...
//!     [--max N] [--http1]
//! ```
//! Each line of FILE is `SRC_HOST/REPO@sha256:HEX DST_HOST/REPO:TAG`. It copies those images
//! with only the requests a copy needs, and no knowledge of what the target holds: one
//! unauthenticated `GET /v2/` per registry to learn its auth scheme, then Basic credentials on
//! every request or one bearer token per registry for every repository it touches (fetched
//! again only when it expires); one `GET` per manifest at the source; per unique blob one
//! `GET` at the source and, at the target, one `POST` and one streamed, monolithic `PUT` (the
//! `GET` and the `POST` at once), biggest blobs first; then one `PUT` per manifest, children
//! before lists, the last line's tag last. `--max` (8) transfers in flight, HTTP/2 where the
//! registry offers it over TLS (`--http1` forbids it), blob digests checked while streaming.
//! No retries, no `HEAD`s, no mounts: the benchmark's lower bound for a client, not a tool.
//! Prints a JSON summary (requests per registry, bytes, seconds) on stdout.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::Bytes;
use futures_util::{StreamExt as _, TryStreamExt as _, stream};
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, LOCATION};
use sha2::{Digest as _, Sha256};
use tokio::sync::Mutex;

const ACCEPT_MANIFESTS: &str = "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";

type Res<T> = Result<T, String>;

/// `host` + repository path.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Loc {
    host: String,
    repo: String,
}

impl Loc {
    fn parse(s: &str) -> Res<Self> {
        let (host, repo) = s
            .split_once('/')
            .ok_or_else(|| format!("`{s}` has no repository"))?;
        Ok(Self {
            host: host.into(),
            repo: repo.into(),
        })
    }
}

#[derive(Debug)]
struct Job {
    src: Loc,
    digest: String,
    dst: Loc,
    tag: String,
}

fn parse_jobs(text: &str) -> Res<Vec<Job>> {
    let mut jobs = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let mut words = line.split_whitespace();
        let (Some(src), Some(dst), None) = (words.next(), words.next(), words.next()) else {
            return Err(format!("job line `{line}`: want `SRC@DIGEST DST:TAG`"));
        };
        let (src, digest) = src
            .split_once('@')
            .ok_or_else(|| format!("`{src}` has no @digest"))?;
        let (dst, tag) = dst
            .rsplit_once(':')
            .filter(|(d, _)| d.contains('/'))
            .ok_or_else(|| format!("`{dst}` has no :tag"))?;
        jobs.push(Job {
            src: Loc::parse(src)?,
            digest: digest.into(),
            dst: Loc::parse(dst)?,
            tag: tag.into(),
        });
    }
    Ok(jobs)
}

/// How requests to one registry are authorized (no `Debug`: it holds credentials).
enum Auth {
    None,
    Basic(String),
    Bearer {
        realm: String,
        service: String,
        scopes: Vec<String>,
        basic: Option<String>,
        token: Mutex<(String, Instant)>,
    },
}

struct Client {
    http: reqwest::Client,
    insecure: Vec<String>,
    auth: HashMap<String, Auth>,
    requests: BTreeMap<String, AtomicU64>,
    token_requests: AtomicU64,
}

impl Client {
    fn base(&self, host: &str) -> String {
        let scheme = if self.insecure.iter().any(|h| h == host) {
            "http"
        } else {
            "https"
        };
        format!("{scheme}://{host}/v2")
    }

    /// Sends a request to `host` with its authorization, counting it.
    async fn send(&self, host: &str, req: reqwest::RequestBuilder) -> Res<reqwest::Response> {
        let req = match self.auth.get(host) {
            Some(Auth::Basic(h)) => req.header(AUTHORIZATION, h),
            Some(a @ Auth::Bearer { .. }) => req.header(AUTHORIZATION, self.bearer(a).await?),
            _ => req,
        };
        if let Some(n) = self.requests.get(host) {
            n.fetch_add(1, Ordering::Relaxed);
        }
        req.send().await.map_err(|e| format!("{host}: {e:?}"))
    }

    /// The registry's bearer header, fetching a token when there is none or it expired.
    async fn bearer(&self, auth: &Auth) -> Res<String> {
        let Auth::Bearer {
            realm,
            service,
            scopes,
            basic,
            token,
        } = auth
        else {
            return Err("not a bearer registry".into());
        };
        let mut t = token.lock().await;
        if t.0.is_empty() || Instant::now() >= t.1 {
            let mut q: Vec<(&str, &str)> = vec![("service", service)];
            q.extend(scopes.iter().map(|s| ("scope", s.as_str())));
            let mut req = self.http.get(realm).query(&q);
            if let Some(b) = basic {
                req = req.header(AUTHORIZATION, b);
            }
            self.token_requests.fetch_add(1, Ordering::Relaxed);
            let resp = ok(req.send().await.map_err(|e| format!("{realm}: {e}"))?).await?;
            let v: serde_json::Value = resp.json().await.map_err(|e| e.to_string())?;
            let tok = v["token"]
                .as_str()
                .or(v["access_token"].as_str())
                .ok_or("token response without a token")?;
            let life = v["expires_in"].as_u64().unwrap_or(60).saturating_sub(10);
            *t = (
                format!("Bearer {tok}"),
                Instant::now() + Duration::from_secs(life),
            );
        }
        Ok(t.0.clone())
    }
}

/// The response if it is a success, else its status and body as an error.
async fn ok(resp: reqwest::Response) -> Res<reqwest::Response> {
    if resp.status().is_success() {
        return Ok(resp);
    }
    let (status, url) = (resp.status(), resp.url().clone());
    let body = resp.text().await.unwrap_or_default();
    Err(format!("{url}: {status}: {body}"))
}

fn sha256(b: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(b)))
}

/// `key="value"` parameters of a `WWW-Authenticate` challenge.
fn challenge_param(header: &str, key: &str) -> Option<String> {
    let start = header.find(&format!("{key}=\""))? + key.len() + 2;
    let end = header[start..].find('"')? + start;
    Some(header[start..end].to_string())
}

/// Learns each registry's auth scheme with one anonymous `GET /v2/`.
async fn setup_auth(
    c: &mut Client,
    creds: &HashMap<String, String>,
    scopes: &BTreeMap<String, Vec<String>>,
) -> Res<()> {
    for (host, scopes) in scopes {
        c.requests.insert(host.clone(), AtomicU64::new(1));
        let resp = c
            .http
            .get(format!("{}/", c.base(host)))
            .send()
            .await
            .map_err(|e| format!("{host}: {e:?}"))?;
        let challenge = resp
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let basic = creds.get(host).map(|a| format!("Basic {a}"));
        let auth = if resp.status().is_success() {
            Auth::None
        } else if challenge.to_ascii_lowercase().starts_with("bearer") {
            Auth::Bearer {
                realm: challenge_param(&challenge, "realm").ok_or("challenge without realm")?,
                service: challenge_param(&challenge, "service").unwrap_or_default(),
                scopes: scopes.clone(),
                basic,
                token: Mutex::new((String::new(), Instant::now())),
            }
        } else {
            Auth::Basic(basic.ok_or_else(|| format!("{host} wants credentials; none given"))?)
        };
        c.auth.insert(host.clone(), auth);
    }
    Ok(())
}

/// A manifest to write: where, under which reference, its bytes and media type.
struct Put {
    dst: Loc,
    reference: String,
    bytes: Bytes,
    media_type: String,
}

/// What one job needs: its manifests (children first) and its blobs (digest, size).
type JobPlan = (Vec<Put>, Vec<(String, u64)>);

async fn get_manifest(c: &Client, src: &Loc, digest: &str) -> Res<(Bytes, String)> {
    let url = format!("{}/{}/manifests/{digest}", c.base(&src.host), src.repo);
    let resp = ok(c
        .send(&src.host, c.http.get(url).header(ACCEPT, ACCEPT_MANIFESTS))
        .await?)
    .await?;
    let media_type = resp
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let bytes = resp.bytes().await.map_err(|e| e.to_string())?;
    if sha256(&bytes) != digest {
        return Err(format!("manifest {digest} of {} does not match", src.repo));
    }
    Ok((bytes, media_type))
}

/// Reads a job's manifest and, for a list, its children.
async fn plan_job(c: &Client, job: &Job) -> Res<JobPlan> {
    let (bytes, media_type) = get_manifest(c, &job.src, &job.digest).await?;
    let top: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
    let mut images = Vec::new();
    let mut puts = Vec::new();
    if let Some(children) = top["manifests"].as_array() {
        for child in children {
            let d = child["digest"].as_str().ok_or("child without digest")?;
            let (b, mt) = get_manifest(c, &job.src, d).await?;
            images
                .push(serde_json::from_slice::<serde_json::Value>(&b).map_err(|e| e.to_string())?);
            puts.push(Put {
                dst: job.dst.clone(),
                reference: d.into(),
                bytes: b,
                media_type: mt,
            });
        }
    } else {
        images.push(top);
    }
    let mut blobs = Vec::new();
    for m in &images {
        let descs = m["layers"].as_array().into_iter().flatten();
        for d in std::iter::once(&m["config"]).chain(descs) {
            if let (Some(digest), Some(size)) = (d["digest"].as_str(), d["size"].as_u64()) {
                blobs.push((digest.to_string(), size));
            }
        }
    }
    puts.push(Put {
        dst: job.dst.clone(),
        reference: job.tag.clone(),
        bytes,
        media_type,
    });
    Ok((puts, blobs))
}

/// GET at the source and POST at the target at once, then one streamed PUT.
async fn copy_blob(c: &Client, src: &Loc, dst: &Loc, digest: &str, size: u64) -> Res<()> {
    let get_url = format!("{}/{}/blobs/{digest}", c.base(&src.host), src.repo);
    let post_url = format!("{}/{}/blobs/uploads/", c.base(&dst.host), dst.repo);
    let (get, post) = tokio::join!(
        c.send(&src.host, c.http.get(get_url)),
        c.send(
            &dst.host,
            c.http.post(&post_url).header(CONTENT_LENGTH, "0")
        )
    );
    let (get, post) = (ok(get?).await?, ok(post?).await?);
    let location = post
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .ok_or("upload without Location")?;
    let mut put_url = post.url().join(location).map_err(|e| e.to_string())?;
    put_url.query_pairs_mut().append_pair("digest", digest);
    let want = digest.to_string();
    let body = stream::unfold(
        (get.bytes_stream(), Some(Sha256::new()), want),
        |(mut body, mut hasher, want)| async move {
            let h = hasher.as_mut()?;
            match body.next().await {
                Some(Ok(chunk)) => {
                    h.update(&chunk);
                    Some((Ok(chunk), (body, hasher, want)))
                }
                Some(Err(e)) => Some((Err(std::io::Error::other(e)), (body, None, want))),
                None => {
                    let got = format!("sha256:{}", hex::encode(hasher.take()?.finalize()));
                    let err = std::io::Error::other(format!("blob {want} arrived as {got}"));
                    (got != want).then_some((Err(err), (body, None, want)))
                }
            }
        },
    );
    let put = c
        .http
        .put(put_url)
        .header(CONTENT_LENGTH, size)
        .header(CONTENT_TYPE, "application/octet-stream");
    ok(
        c.send(&dst.host, put.body(reqwest::Body::wrap_stream(body)))
            .await?,
    )
    .await?;
    Ok(())
}

async fn put_manifest(c: &Client, p: &Put) -> Res<()> {
    let url = format!(
        "{}/{}/manifests/{}",
        c.base(&p.dst.host),
        p.dst.repo,
        p.reference
    );
    let req = c
        .http
        .put(url)
        .header(CONTENT_TYPE, &p.media_type)
        .body(p.bytes.clone());
    ok(c.send(&p.dst.host, req).await?).await.map(drop)
}

struct Opts {
    jobs: String,
    auth: Option<String>,
    ca_files: Vec<String>,
    insecure: Vec<String>,
    max: usize,
    http1: bool,
}

fn parse_args() -> Res<Opts> {
    let mut o = Opts {
        jobs: String::new(),
        auth: None,
        ca_files: Vec::new(),
        insecure: Vec::new(),
        max: 8,
        http1: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut val = || it.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--jobs" => o.jobs = val()?,
            "-a" | "--registry-config" => o.auth = Some(val()?),
            "--ca-file" => o.ca_files.push(val()?),
            "--insecure-registry" => o.insecure.push(val()?),
            "--max" => o.max = val()?.parse().map_err(|_| "--max: not a number")?,
            "--http1" => o.http1 = true,
            _ => return Err(format!("unknown argument `{a}`")),
        }
    }
    if o.jobs.is_empty() {
        return Err("usage: bench-copy --jobs FILE [-a AUTH_JSON] [--ca-file PEM]... [--insecure-registry HOST]... [--max N] [--http1]".into());
    }
    Ok(o)
}

/// `host -> base64(user:password)` from a `{"auths": {...}}` file.
fn load_creds(path: Option<&str>) -> Res<HashMap<String, String>> {
    let Some(path) = path else {
        return Ok(HashMap::new());
    };
    let text = std::fs::read_to_string(path).map_err(|e| format!("read `{path}`: {e}"))?;
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| format!("{path}: {e}"))?;
    let mut creds = HashMap::new();
    for (host, entry) in v["auths"].as_object().into_iter().flatten() {
        if let Some(a) = entry["auth"].as_str() {
            base64::engine::general_purpose::STANDARD
                .decode(a)
                .map_err(|e| format!("{path}: entry `{host}`: {e}"))?;
            creds.insert(host.clone(), a.to_string());
        }
    }
    Ok(creds)
}

async fn run(o: Opts) -> Res<serde_json::Value> {
    let started = Instant::now();
    let text = std::fs::read_to_string(&o.jobs).map_err(|e| format!("read `{}`: {e}", o.jobs))?;
    let jobs = parse_jobs(&text)?;
    let mut certs = Vec::new();
    for f in &o.ca_files {
        let pem = std::fs::read(f).map_err(|e| format!("read `{f}`: {e}"))?;
        certs.extend(reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| e.to_string())?);
    }
    let mut builder = reqwest::Client::builder()
        .user_agent("bench-copy")
        .tls_certs_merge(certs);
    if o.http1 {
        builder = builder.http1_only();
    }
    let mut c = Client {
        http: builder.build().map_err(|e| e.to_string())?,
        insecure: o.insecure,
        auth: HashMap::new(),
        requests: BTreeMap::new(),
        token_requests: AtomicU64::new(0),
    };
    // Every repository each registry is asked for, as token scopes.
    let mut scopes: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for j in &jobs {
        for (loc, actions) in [(&j.src, "pull"), (&j.dst, "pull,push")] {
            let s = format!("repository:{}:{actions}", loc.repo);
            let list = scopes.entry(loc.host.clone()).or_default();
            if !list.contains(&s) {
                list.push(s);
            }
        }
    }
    setup_auth(&mut c, &load_creds(o.auth.as_deref())?, &scopes).await?;
    let c = Arc::new(c);

    let plans: Vec<JobPlan> = stream::iter(&jobs)
        .map(|j| plan_job(&c, j))
        .buffered(o.max)
        .try_collect()
        .await?;
    let mut blobs: BTreeMap<(Loc, String), (Loc, u64)> = BTreeMap::new();
    for (job, (_, bs)) in jobs.iter().zip(&plans) {
        for (digest, size) in bs {
            blobs
                .entry((job.dst.clone(), digest.clone()))
                .or_insert((job.src.clone(), *size));
        }
    }
    let mut order: Vec<_> = blobs.iter().collect();
    order.sort_by_key(|(_, (_, size))| std::cmp::Reverse(*size));
    let bytes: u64 = order.iter().map(|(_, (_, s))| s).sum();
    stream::iter(order)
        .map(|((dst, digest), (src, size))| copy_blob(&c, src, dst, digest, *size))
        .buffer_unordered(o.max)
        .try_collect::<Vec<()>>()
        .await?;

    // Children, then every top-level manifest but the last job's, then that one.
    let mut puts: Vec<Put> = plans.into_iter().flat_map(|(p, _)| p).collect();
    let last = puts.pop().ok_or("no jobs")?;
    let (children, tops): (Vec<Put>, Vec<Put>) = puts
        .into_iter()
        .partition(|p| p.reference.starts_with("sha256:"));
    let manifests = children.len() + tops.len() + 1;
    for phase in [children, tops, vec![last]] {
        stream::iter(&phase)
            .map(|p| put_manifest(&c, p))
            .buffer_unordered(o.max)
            .try_collect::<Vec<()>>()
            .await?;
    }
    let requests: serde_json::Map<String, serde_json::Value> = c
        .requests
        .iter()
        .map(|(h, n)| (h.clone(), n.load(Ordering::Relaxed).into()))
        .collect();
    Ok(serde_json::json!({
        "images": jobs.len(),
        "manifests": manifests,
        "blobs": blobs.len(),
        "bytes": bytes,
        "requests": requests,
        "tokenRequests": c.token_requests.load(Ordering::Relaxed),
        "seconds": started.elapsed().as_secs_f64(),
    }))
}

fn main() -> std::process::ExitCode {
    let result = parse_args().and_then(|o| {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?
            .block_on(run(o))
    });
    match result {
        Ok(summary) => {
            println!("{summary}");
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::from(1)
        }
    }
}
