//! Authentication against registries: the challenge each registry answered with, bearer
//! tokens cached per registry and scope, and the credentials of the auth file.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::header::HeaderValue;
use reqwest::{Method, StatusCode};

use super::RegistryClient;
use super::challenge::Challenge;
use super::transport::Req;
use crate::auth::FoundCredential;
use crate::error::Error;
use crate::reference::Repository;

/// What each registry asked for, and the tokens it gave.
#[derive(Default)]
pub(crate) struct TokenCache {
    registries: Mutex<HashMap<String, RegistryAuth>>,
    /// One lock per registry and scope key: concurrent requests that need the same token
    /// wait for one fetch instead of each fetching its own.
    fetching: Mutex<HashMap<(String, String), FetchLock>>,
}

/// Held while a token for one registry and scope is fetched.
type FetchLock = Arc<tokio::sync::Mutex<()>>;

#[derive(Default)]
struct RegistryAuth {
    challenge: Option<Challenge>,
    /// Scope key (scopes joined by a space) -> (token, renew after).
    tokens: HashMap<String, (String, Instant)>,
}

impl TokenCache {
    fn with<T>(&self, f: impl FnOnce(&mut HashMap<String, RegistryAuth>) -> T) -> T {
        let mut guard = self.registries.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    }

    /// Records the challenge `registry` answered with; true when it is new.
    pub(crate) fn learn(&self, registry: &str, ch: Challenge) -> bool {
        self.with(|m| {
            let entry = m.entry(registry.to_string()).or_default();
            let changed = entry.challenge.as_ref() != Some(&ch);
            entry.challenge = Some(ch);
            changed
        })
    }

    /// Drops the token for exactly these scopes (a `401` says it no longer works); true when
    /// there was one. Tokens for other scopes stay.
    pub(crate) fn forget(&self, registry: &str, scopes: &[String]) -> bool {
        let key = scopes.join(" ");
        self.with(|m| {
            m.get_mut(registry)
                .is_some_and(|r| r.tokens.remove(&key).is_some())
        })
    }

    fn challenge(&self, registry: &str) -> Option<Challenge> {
        self.with(|m| m.get(registry).and_then(|r| r.challenge.clone()))
    }

    fn token(&self, registry: &str, key: &str) -> Option<String> {
        self.with(|m| {
            m.get(registry)
                .and_then(|r| r.tokens.get(key))
                .filter(|(_, until)| Instant::now() < *until)
                .map(|(t, _)| t.clone())
        })
    }

    fn fetch_lock(&self, registry: &str, key: &str) -> FetchLock {
        let mut guard = self.fetching.lock().unwrap_or_else(|p| p.into_inner());
        guard
            .entry((registry.to_string(), key.to_string()))
            .or_default()
            .clone()
    }

    fn store(&self, registry: &str, key: String, token: String, until: Instant) {
        self.with(|m| {
            m.entry(registry.to_string())
                .or_default()
                .tokens
                .insert(key, (token, until))
        });
    }
}

/// A token endpoint's answer.
#[derive(serde::Deserialize)]
struct TokenResponse {
    token: Option<String>,
    access_token: Option<String>,
    expires_in: Option<u64>,
}

impl RegistryClient {
    /// The `Authorization` value for a request to `repo` needing `scopes`: none until the
    /// registry has challenged us; Basic from the auth file; or a bearer token, cached per
    /// scope and fetched (with its own retries) when missing or expired.
    pub(crate) async fn authorization(
        &self,
        repo: &Repository,
        scopes: &[String],
    ) -> Result<Option<HeaderValue>, Error> {
        let cred = self.credential(repo);
        let value = match self.tokens.challenge(&repo.registry) {
            None => return Ok(None),
            Some(Challenge::Basic) => match &cred {
                Some(c) => format!("Basic {}", c.credential.to_auth_value()),
                None => return Ok(None),
            },
            Some(Challenge::Bearer { realm, service }) => {
                let key = scopes.join(" ");
                let token = match self.tokens.token(&repo.registry, &key) {
                    Some(t) => t,
                    None => {
                        // One fetch per scope at a time; who waited finds it in the cache.
                        let lock = self.tokens.fetch_lock(&repo.registry, &key);
                        let _fetching = lock.lock().await;
                        match self.tokens.token(&repo.registry, &key) {
                            Some(t) => t,
                            None => {
                                let (token, until) = Box::pin(self.fetch_token(
                                    repo,
                                    &realm,
                                    service.as_deref(),
                                    scopes,
                                    cred.as_ref(),
                                ))
                                .await?;
                                self.tokens.store(&repo.registry, key, token.clone(), until);
                                token
                            }
                        }
                    }
                };
                format!("Bearer {token}")
            }
        };
        let mut v = HeaderValue::from_str(&value).map_err(|_| Error::Registry {
            op: "authorize",
            target: repo.registry.clone(),
            status: 401,
            code: None,
            message: Some("the credentials or token are not a valid header value".into()),
            tries: 1,
            auth_entry: cred.as_ref().map(|c| c.describe().into()),
            retry_after: None,
        })?;
        v.set_sensitive(true);
        Ok(Some(v))
    }

    /// Gets a token for `scopes` from the challenge's realm (a request like any other, retried
    /// by the policy).
    async fn fetch_token(
        &self,
        repo: &Repository,
        realm: &str,
        service: Option<&str>,
        scopes: &[String],
        cred: Option<&FoundCredential>,
    ) -> Result<(String, Instant), Error> {
        let token_err = |status: u16, message: &str| Error::Registry {
            op: "get token",
            target: repo.registry.clone(),
            status,
            code: None,
            message: Some(message.to_string()),
            tries: 1,
            auth_entry: cred.map(|c| c.describe().into()),
            retry_after: None,
        };
        let mut url = url::Url::parse(realm).map_err(|_| {
            token_err(
                401,
                &format!("the registry's token realm `{realm}` is not a URL"),
            )
        })?;
        {
            let mut q = url.query_pairs_mut();
            if let Some(s) = service {
                q.append_pair("service", s);
            }
            for s in scopes {
                q.append_pair("scope", s);
            }
        }
        let mut req = Req::read("get token", repo.registry.clone(), repo, Method::GET, url);
        // The token endpoint is not the registry: no registry challenge applies to it.
        req.authorize = false;
        req.accept = &[StatusCode::OK];
        if let Some(c) = cred {
            let basic = format!("Basic {}", c.credential.to_auth_value());
            let mut v = HeaderValue::from_str(&basic)
                .map_err(|_| token_err(401, "the credentials are not a valid header value"))?;
            v.set_sensitive(true);
            req.headers.insert(reqwest::header::AUTHORIZATION, v);
        }
        let answer = self.request(req, 1 << 20, Ok).await?;
        let t: TokenResponse = serde_json::from_slice(&answer.body).map_err(|_| {
            token_err(
                answer.status.as_u16(),
                "the token endpoint answered with something that is not a token",
            )
        })?;
        let token = t
            .token
            .or(t.access_token)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                token_err(
                    answer.status.as_u16(),
                    "the token endpoint answered with an empty token",
                )
            })?;
        // Renew a little early; registries default to 60 s when they say nothing.
        let ttl = Duration::from_secs(t.expires_in.unwrap_or(60).max(10));
        Ok((token, Instant::now() + ttl - Duration::from_secs(5)))
    }
}
