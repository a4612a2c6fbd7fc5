//! The one request loop: build a request, authorize it, send it, classify what comes back.
//! Every request-level retry happens in [`RegistryClient::request`]; a single attempt (for the
//! requests inside a streamed copy, which is retried as a whole) is [`RegistryClient::attempt`].

use std::time::{Instant, SystemTime};

use bytes::Bytes;
use futures_util::StreamExt as _;
use reqwest::header::{self, HeaderMap};
use reqwest::{Method, StatusCode};

use super::RegistryClient;
use super::retry::{self, RetryPolicy};
use super::tls::cert_problem;
use crate::error::Error;
use crate::reference::Repository;
use crate::verify::VerifyError;

/// One request's description.
pub(crate) struct Req<'a> {
    /// The operation, for errors and retry notices (`get manifest`, `upload blob`, ...).
    pub(crate) op: &'static str,
    /// The image, blob or registry involved, for errors.
    pub(crate) target: String,
    pub(crate) repo: &'a Repository,
    /// Token scopes (`repository:<path>:pull`, ...).
    pub(crate) scopes: Vec<String>,
    pub(crate) method: Method,
    pub(crate) url: url::Url,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Option<Bytes>,
    /// Statuses that are answers, not errors.
    pub(crate) accept: &'a [StatusCode],
    /// Whether the registry's challenge applies (not for its token endpoint).
    pub(crate) authorize: bool,
}

impl<'a> Req<'a> {
    /// A `GET`/`HEAD` with a pull scope; `404` is an answer, not an error.
    pub(crate) fn read(
        op: &'static str,
        target: String,
        repo: &'a Repository,
        method: Method,
        url: url::Url,
    ) -> Self {
        Req {
            op,
            target,
            repo,
            scopes: vec![pull_scope(repo)],
            method,
            url,
            headers: HeaderMap::new(),
            body: None,
            accept: &[StatusCode::OK, StatusCode::NOT_FOUND],
            authorize: true,
        }
    }

    /// A write to `repo` (pull and push scope) accepting `accept`.
    pub(crate) fn write(
        op: &'static str,
        target: String,
        repo: &'a Repository,
        method: Method,
        url: url::Url,
        accept: &'a [StatusCode],
    ) -> Self {
        Req {
            op,
            target,
            repo,
            scopes: vec![push_scope(repo)],
            method,
            url,
            headers: HeaderMap::new(),
            body: None,
            accept,
            authorize: true,
        }
    }

    pub(crate) fn header(mut self, name: header::HeaderName, value: header::HeaderValue) -> Self {
        self.headers.insert(name, value);
        self
    }

    pub(crate) fn body(mut self, body: Bytes) -> Self {
        self.body = Some(body);
        self
    }
}

pub(crate) fn pull_scope(repo: &Repository) -> String {
    format!("repository:{}:pull", repo.path)
}

pub(crate) fn push_scope(repo: &Repository) -> String {
    format!("repository:{}:pull,push", repo.path)
}

/// An answer read whole.
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
    /// The URL answered (after redirects).
    pub(crate) url: url::Url,
}

impl Answer {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl RegistryClient {
    /// A request retried by the client's policy, its body read whole (at most `max_body`
    /// bytes) and turned into a `T` by `parse` inside the same attempt, so a body cut off or
    /// corrupted in flight is retried like a failed request.
    pub(crate) async fn request<T>(
        &self,
        req: Req<'_>,
        max_body: usize,
        parse: impl Fn(Answer) -> Result<T, Error>,
    ) -> Result<T, Error> {
        self.request_with(&self.opts.retry, req, max_body, parse)
            .await
    }

    /// [`Self::request`] under another policy.
    pub(crate) async fn request_with<T>(
        &self,
        policy: &RetryPolicy,
        req: Req<'_>,
        max_body: usize,
        parse: impl Fn(Answer) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let target = req.target.clone();
        retry::run(
            policy,
            self.opts.on_retry.as_ref(),
            req.op,
            &target,
            || async {
                let resp = self.attempt(&req).await?;
                parse(self.read_answer(&req, resp, max_body).await?)
            },
        )
        .await
    }

    async fn read_answer(
        &self,
        req: &Req<'_>,
        resp: reqwest::Response,
        max: usize,
    ) -> Result<Answer, Error> {
        let status = resp.status();
        let headers = resp.headers().clone();
        let url = resp.url().clone();
        if req.method == Method::HEAD {
            // Content-Length describes the resource, not a body.
            return Ok(Answer {
                status,
                headers,
                body: Bytes::new(),
                url,
            });
        }
        if resp.content_length().is_some_and(|l| l > max as u64) {
            return Err(Error::Manifest {
                target: req.target.clone(),
                reason: format!("the answer is larger than {max} bytes"),
            });
        }
        let mut body = Vec::new();
        let mut stream = resp.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| conn_err(req.op, req.target.clone(), &e))?;
            if body.len() + chunk.len() > max {
                return Err(Error::Manifest {
                    target: req.target.clone(),
                    reason: format!("the answer is larger than {max} bytes"),
                });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Answer {
            status,
            headers,
            body: body.into(),
            url,
        })
    }

    /// One attempt at `req`: authorized (a `401` with a challenge is answered once with new
    /// credentials, which is authentication, not a retry), sent, and its status classified.
    /// The body is left unread. Errors are single attempts (`tries == 1`), except a failure to
    /// get a token, which went through its own retries.
    pub(crate) async fn attempt(&self, req: &Req<'_>) -> Result<reqwest::Response, Error> {
        self.attempt_with_body(req, || {
            req.body
                .clone()
                .map(reqwest::Body::from)
                .unwrap_or_default()
        })
        .await
    }

    /// [`Self::attempt`] with a body made by `body` for each send (a stream is made once: a
    /// `401` on a streamed body fails, since it cannot be sent again; authorize first).
    pub(crate) async fn attempt_with_body(
        &self,
        req: &Req<'_>,
        body: impl FnMut() -> reqwest::Body,
    ) -> Result<reqwest::Response, Error> {
        use tracing::Instrument as _;
        let span = tracing::debug_span!("request", op = req.op, method = %req.method, url = %redacted(&req.url));
        self.attempt_inner(req, body).instrument(span).await
    }

    async fn attempt_inner(
        &self,
        req: &Req<'_>,
        mut body: impl FnMut() -> reqwest::Body,
    ) -> Result<reqwest::Response, Error> {
        let mut reauthed = false;
        loop {
            let started = Instant::now();
            let mut rb = self
                .http
                .request(req.method.clone(), req.url.clone())
                .headers(req.headers.clone());
            if req.body.is_some() || req.method == Method::PUT || req.method == Method::POST {
                rb = rb.body(body());
            }
            if req.authorize
                && let Some(a) = self.authorization(req.repo, &req.scopes).await?
            {
                rb = rb.header(header::AUTHORIZATION, a);
            }
            let resp = match rb.send().await {
                Ok(r) => r,
                Err(e) => {
                    tracing::debug!(error = %error_chain(&e), "failed");
                    // The body's own check stopped it: the bytes were wrong, not the network.
                    if let Some(v) = VerifyError::find(&e) {
                        return Err(v.clone().into_error(req.target.clone()));
                    }
                    return Err(conn_err(req.op, req.target.clone(), &e));
                }
            };
            let status = resp.status();
            tracing::debug!(
                status = status.as_u16(),
                ms = started.elapsed().as_millis() as u64,
                "answered"
            );
            if req.accept.contains(&status) {
                return Ok(resp);
            }
            if status == StatusCode::UNAUTHORIZED && req.authorize && !reauthed {
                let challenge = resp
                    .headers()
                    .get(header::WWW_AUTHENTICATE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(super::challenge::parse);
                if let Some(ch) = challenge {
                    let changed = self.tokens.learn(&req.repo.registry, ch);
                    let had_token = self.tokens.forget(&req.repo.registry, &req.scopes);
                    // Answer again when we learned how to authenticate, or when a token for
                    // this scope (possibly anonymous) can now be fetched anew.
                    if changed || had_token || self.credential(req.repo).is_some() {
                        reauthed = true;
                        continue;
                    }
                }
            }
            return Err(self.registry_err(req, resp).await);
        }
    }

    pub(crate) async fn registry_err(&self, req: &Req<'_>, resp: reqwest::Response) -> Error {
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| retry::parse_retry_after(v, SystemTime::now()))
            .map(|d| u32::try_from(d.as_secs()).unwrap_or(u32::MAX));
        let body = resp.bytes().await.unwrap_or_default();
        let (code, message) = parse_error_body(&body);
        Error::Registry {
            op: req.op,
            target: req.target.clone(),
            status,
            code: code.map(Into::into),
            message,
            tries: 1,
            auth_entry: self.credential(req.repo).map(|c| c.describe().into()),
            retry_after,
        }
    }
}

/// A URL without its query (upload locations carry session state there).
fn redacted(url: &url::Url) -> String {
    let mut u = url.clone();
    u.set_query(None);
    u.to_string()
}

pub(crate) fn conn_err(op: &'static str, target: String, e: &reqwest::Error) -> Error {
    Error::Connection {
        op,
        target,
        tries: 1,
        detail: error_chain(e),
        cert: cert_problem(e),
    }
}

/// Reads the registry error envelope `{"errors":[{"code","message"}]}`, else a short text.
pub(crate) fn parse_error_body(body: &[u8]) -> (Option<String>, Option<String>) {
    #[derive(serde::Deserialize)]
    struct Envelope {
        errors: Vec<Item>,
    }
    #[derive(serde::Deserialize)]
    struct Item {
        code: Option<String>,
        message: Option<String>,
    }
    if let Ok(env) = serde_json::from_slice::<Envelope>(body)
        && let Some(first) = env.errors.into_iter().next()
    {
        return (first.code, first.message);
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        (None, None)
    } else {
        (None, Some(text.chars().take(200).collect()))
    }
}

/// An error and its causes as one line, each cause once.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
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
    fn error_bodies() {
        type Row<'a> = (&'a [u8], (Option<&'a str>, Option<&'a str>));
        let table: [Row; 3] = [
            (
                br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{}}]}"#,
                (Some("MANIFEST_UNKNOWN"), Some("manifest unknown")),
            ),
            (b"<html>bad gateway</html>", (None, Some("<html>bad gateway</html>"))),
            (b"", (None, None)),
        ];
        for (body, (code, msg)) in table {
            let (c, m) = parse_error_body(body);
            assert_eq!((c.as_deref(), m.as_deref()), (code, msg));
        }
    }

    #[test]
    fn urls_are_logged_without_their_query() {
        let u =
            url::Url::parse("https://r:5000/v2/a/blobs/uploads/x?_state=secret&digest=d").unwrap();
        assert_eq!(redacted(&u), "https://r:5000/v2/a/blobs/uploads/x");
    }
}
