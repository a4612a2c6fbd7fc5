//! Manifests, tags and the catalog: reads verified against their digest, writes with the
//! original bytes and media type.

use bytes::Bytes;
use reqwest::header::{self, HeaderValue};
use reqwest::{Method, StatusCode};

use super::RegistryClient;
use super::transport::{Answer, Req};
use crate::digest::Digest;
use crate::error::Error;
use crate::manifest::{ACCEPT_MANIFESTS, MAX_MANIFEST_BYTES, media_type_of};
use crate::reference::Repository;

/// A manifest exactly as the registry served it.
#[derive(Clone, Debug)]
pub struct RawManifest {
    /// The bytes, never re-serialized.
    pub bytes: Bytes,
    /// The media type (from `Content-Type`, else from the JSON, else inferred from its shape).
    pub media_type: String,
    /// sha256 of `bytes`.
    pub digest: Digest,
}

impl RawManifest {
    /// Checks `bytes` (served for `reference`, a tag or digest of `target`) and decides their
    /// media type: a manifest fetched by digest must hash to it.
    pub fn from_served(
        target: &str,
        reference: &str,
        content_type: Option<&str>,
        bytes: Bytes,
    ) -> Result<Self, Error> {
        let digest = Digest::of(&bytes);
        if let Ok(expected) = Digest::parse(reference)
            && expected != digest
        {
            return Err(Error::DigestMismatch {
                target: target.to_string(),
                expected: expected.to_string(),
                actual: digest.to_string(),
                tries: 1,
            });
        }
        let media_type = media_type_of(content_type, &bytes).map_err(|reason| Error::Manifest {
            target: target.to_string(),
            reason,
        })?;
        Ok(Self {
            bytes,
            media_type,
            digest,
        })
    }
}

/// The `Content-Type` without parameters.
fn content_type(a: &Answer) -> Option<String> {
    a.header(header::CONTENT_TYPE.as_str())
        .map(|v| v.split(';').next().unwrap_or(v).trim().to_string())
}

impl RegistryClient {
    /// Fetches a manifest by tag or digest. `Ok(None)` when it does not exist. A manifest
    /// fetched by digest is verified against that digest.
    pub async fn get_manifest(
        &self,
        repo: &Repository,
        reference: &str,
    ) -> Result<Option<RawManifest>, Error> {
        let target = repo.display_ref(reference);
        let req = Req::read(
            "get manifest",
            target.clone(),
            repo,
            Method::GET,
            self.url(repo, &format!("manifests/{reference}"))?,
        )
        .header(header::ACCEPT, HeaderValue::from_static(ACCEPT_MANIFESTS));
        self.request(req, MAX_MANIFEST_BYTES, |a| {
            if a.status == StatusCode::NOT_FOUND {
                return Ok(None);
            }
            let ct = content_type(&a);
            RawManifest::from_served(&target, reference, ct.as_deref(), a.body).map(Some)
        })
        .await
    }

    /// `HEAD` a manifest: its digest when present.
    pub async fn head_manifest(
        &self,
        repo: &Repository,
        reference: &str,
    ) -> Result<Option<Digest>, Error> {
        let req = Req::read(
            "check manifest",
            repo.display_ref(reference),
            repo,
            Method::HEAD,
            self.url(repo, &format!("manifests/{reference}"))?,
        )
        .header(header::ACCEPT, HeaderValue::from_static(ACCEPT_MANIFESTS));
        let found = self
            .request(req, 0, |a| {
                Ok((a.status != StatusCode::NOT_FOUND).then(|| {
                    a.header("docker-content-digest")
                        .and_then(|v| Digest::parse(v).ok())
                }))
            })
            .await?;
        match (found, Digest::parse(reference)) {
            (None, _) => Ok(None),
            (Some(Some(d)), _) => Ok(Some(d)),
            (Some(None), Ok(d)) => Ok(Some(d)),
            // A tag without a digest header: fall back to a GET.
            (Some(None), Err(_)) => Ok(self.get_manifest(repo, reference).await?.map(|m| m.digest)),
        }
    }

    /// Pushes manifest bytes unchanged under `reference` (a tag or the digest itself) and
    /// checks the digest the registry reports.
    pub async fn put_manifest(
        &self,
        repo: &Repository,
        reference: &str,
        bytes: Bytes,
        media_type: &str,
    ) -> Result<Digest, Error> {
        let target = repo.display_ref(reference);
        let expected = Digest::of(&bytes);
        let ct = HeaderValue::from_str(media_type).map_err(|_| Error::Manifest {
            target: target.clone(),
            reason: format!("media type `{media_type}` is not a valid header"),
        })?;
        let req = Req::write(
            "push manifest",
            target.clone(),
            repo,
            Method::PUT,
            self.url(repo, &format!("manifests/{reference}"))?,
            &[StatusCode::CREATED, StatusCode::OK, StatusCode::ACCEPTED],
        )
        .header(header::CONTENT_TYPE, ct)
        .body(bytes);
        self.request(req, 64 << 10, |a| match a.header("docker-content-digest") {
            Some(d) if d != expected.as_str() => Err(Error::DigestMismatch {
                target: target.clone(),
                expected: expected.to_string(),
                actual: d.to_string(),
                tries: 1,
            }),
            _ => Ok(expected.clone()),
        })
        .await
    }

    /// The tags of `repo`, or `None` when the registry does not know the repository (a
    /// repository that was never pushed to holds no manifests and no blobs).
    pub async fn list_tags(&self, repo: &Repository) -> Result<Option<Vec<String>>, Error> {
        #[derive(serde::Deserialize)]
        struct Tags {
            tags: Option<Vec<String>>,
        }
        let target = repo.to_string();
        let mut all = Vec::new();
        let mut url = self.url(repo, "tags/list?n=10000")?;
        // Follow `Link: <...>; rel="next"` pages.
        for _ in 0..1000 {
            let req = Req::read("list tags", target.clone(), repo, Method::GET, url.clone());
            let page = self
                .request(req, 16 << 20, |a| {
                    if a.status == StatusCode::NOT_FOUND {
                        return Ok(None);
                    }
                    let t: Tags = serde_json::from_slice(&a.body).map_err(|e| Error::Manifest {
                        target: target.clone(),
                        reason: format!("the tag list is not JSON: {e}"),
                    })?;
                    let next = a
                        .header(header::LINK.as_str())
                        .and_then(next_link)
                        .and_then(|l| a.url.join(&l).ok());
                    Ok(Some((t.tags.unwrap_or_default(), next)))
                })
                .await?;
            let Some((tags, next)) = page else {
                return Ok(None);
            };
            all.extend(tags);
            match next {
                Some(n) => url = n,
                None => break,
            }
        }
        Ok(Some(all))
    }

    /// Checks that the registry answers `/v2/` and accepts our credentials for `repo`.
    pub async fn ping(&self, repo: &Repository) -> Result<(), Error> {
        let mut req = Req::read(
            "ping registry",
            repo.registry.clone(),
            repo,
            Method::GET,
            self.registry_url(repo, "")?,
        );
        req.accept = &[StatusCode::OK];
        self.request(req, 1 << 20, |_| Ok(())).await
    }

    /// Lists the repositories of a registry (`/v2/_catalog`, first page up to `n`).
    pub async fn catalog(&self, repo: &Repository, n: usize) -> Result<Vec<String>, Error> {
        #[derive(serde::Deserialize)]
        struct Catalog {
            repositories: Option<Vec<String>>,
        }
        let mut req = Req::read(
            "list catalog",
            repo.registry.clone(),
            repo,
            Method::GET,
            self.registry_url(repo, &format!("_catalog?n={n}"))?,
        );
        req.scopes = vec!["registry:catalog:*".into()];
        req.accept = &[StatusCode::OK];
        self.request(req, 16 << 20, |a| {
            let c: Catalog = serde_json::from_slice(&a.body).map_err(|e| Error::Manifest {
                target: repo.registry.clone(),
                reason: format!("catalog is not JSON: {e}"),
            })?;
            Ok(c.repositories.unwrap_or_default())
        })
        .await
    }
}

/// The URL of a `Link: <url>; rel="next"` header.
fn next_link(header: &str) -> Option<String> {
    header.split(',').find_map(|part| {
        let (url, params) = part.split_once(';')?;
        params.contains("rel=\"next\"").then(|| {
            url.trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_string()
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_links() {
        let table = [
            (
                r#"</v2/a/tags/list?last=x&n=2>; rel="next""#,
                Some("/v2/a/tags/list?last=x&n=2"),
            ),
            (r#"</v2/a/tags/list?n=2>; rel="prev""#, None),
            ("", None),
        ];
        for (h, want) in table {
            assert_eq!(next_link(h).as_deref(), want, "{h}");
        }
    }

    #[test]
    fn served_manifests_are_checked_against_their_digest() {
        let body = Bytes::from_static(br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{},"layers":[]}"#);
        let d = Digest::of(&body);
        let m = RawManifest::from_served("r/a", d.as_str(), None, body.clone()).unwrap();
        assert_eq!(m.digest, d);
        let other = Digest::of(b"x");
        let err = RawManifest::from_served("r/a", other.as_str(), None, body).unwrap_err();
        assert!(matches!(err, Error::DigestMismatch { .. }), "{err}");
        assert!(err.is_transient());
    }
}
