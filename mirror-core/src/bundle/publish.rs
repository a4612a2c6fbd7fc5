//! Publishing a bundle (`release mirror --from-dir`): its files checked, the blobs an earlier
//! bundle carried found at the target, then the same mirror as from a registry, from a
//! [`BundleSource`], release tags strictly last.

use std::path::PathBuf;
use std::sync::Arc;

use super::check::check_before_publish;
use super::format::{BundleMetadata, METADATA_FILE, SIGNATURES_DIR};
use super::source::{BundleSource, missing_at};
use crate::copy::DEFAULT_MAX_PER_REGISTRY;
use crate::error::Error;
use crate::hint::Hint;
use crate::progress::Progress;
use crate::reference::{ImageRef, Repository};
use crate::registry::{RegistryClient, RetryPolicy};
use crate::release::mirror::{MirrorOptions, MirrorReport, mirror_releases};
use crate::release::signature::{SignatureOptions, SignatureStore};

/// How many missing digests an error lists.
const LISTED: usize = 5;

/// Settings for [`publish_bundle`].
#[derive(Clone, Debug)]
pub struct PublishOptions {
    /// The bundle directory (`--from-dir`).
    pub dir: PathBuf,
    /// Target repository (`--to`).
    pub to: Repository,
    /// Where the release image goes (`--to-release-image`), with a single release.
    pub to_release_image: Option<ImageRef>,
    /// Plan only; write nothing.
    pub dry_run: bool,
    /// Transfers in flight at once. Default [`DEFAULT_MAX_PER_REGISTRY`].
    pub max_per_registry: usize,
    /// How a streamed blob copy is retried as a whole.
    pub retry: RetryPolicy,
    /// Release signatures: with no store given, the bundle's `signatures/` is the store
    /// (a `file://` store: nothing is fetched over the network).
    pub signatures: SignatureOptions,
    /// Where additional images go: `<registry of to>/<namespace>/<their repository path>`,
    /// as `mirror --config` puts them. Default: no namespace.
    pub namespace: String,
}

impl PublishOptions {
    /// Options with defaults, publishing `dir` into `to`.
    pub fn new(dir: impl Into<PathBuf>, to: Repository) -> Self {
        Self {
            dir: dir.into(),
            to,
            to_release_image: None,
            dry_run: false,
            max_per_registry: DEFAULT_MAX_PER_REGISTRY,
            retry: RetryPolicy::default(),
            signatures: SignatureOptions::default(),
            namespace: String::new(),
        }
    }
}

/// Publishes the bundle at `opts.dir` into `opts.to` through `client`: checks its files (a
/// missing, cut-short or altered volume or blob stops everything before any write), checks
/// that the target holds the blobs an earlier bundle carried, then mirrors its releases with
/// their original names, so the report's mirror instructions name the original sources.
pub async fn publish_bundle(
    client: &RegistryClient,
    opts: &PublishOptions,
    progress: Arc<dyn Progress>,
) -> Result<MirrorReport, Error> {
    let dir = opts.dir.clone();
    let meta = tokio::task::spawn_blocking(move || {
        let meta = BundleMetadata::read(&dir)?;
        check_before_publish(&dir, &meta)?;
        Ok::<_, Error>(meta)
    })
    .await
    .map_err(|e| Error::io("check", &opts.dir, std::io::Error::other(e)))??;
    let required = meta.requires.list.iter().map(|b| b.digest.clone());
    let missing = missing_at(client, &opts.to, required, opts.max_per_registry).await?;
    if !missing.is_empty() {
        let since = meta.since.clone();
        let listed: Vec<String> = missing
            .iter()
            .take(LISTED)
            .map(|d| format!("`{d}`"))
            .collect();
        let more = missing.len().saturating_sub(LISTED);
        return Err(Error::Bundle {
            path: opts.dir.join(METADATA_FILE),
            reason: format!(
                "{} of the {} blobs this bundle leaves to an earlier bundle are not at `{}`: {}{}; nothing was published",
                missing.len(),
                meta.requires.count,
                opts.to,
                listed.join(", "),
                if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                }
            ),
            hint: Box::new(Hint::BundleBaseMissing {
                base_id: since
                    .as_ref()
                    .map(|s| s.bundle_id.clone())
                    .unwrap_or_default(),
                base_created: since.map(|s| s.created_at).unwrap_or_default(),
            }),
        });
    }
    let dir = opts.dir.clone();
    let source = tokio::task::spawn_blocking(move || BundleSource::open(&dir))
        .await
        .map_err(|e| Error::io("open", &opts.dir, std::io::Error::other(e)))??
        .with_fallback(client.clone(), opts.to.clone());
    let request = source.request()?;
    let mut signatures = opts.signatures.clone();
    let tree = opts.dir.join(SIGNATURES_DIR);
    if !signatures.skip && signatures.stores.is_empty() && tree.is_dir() {
        let abs = std::path::absolute(&tree).map_err(|e| Error::io("resolve", &tree, e))?;
        let url = url::Url::from_directory_path(&abs).map_err(|()| Error::InvalidSetting {
            name: "from-dir".into(),
            reason: format!("`{}` does not make a file:// URL", abs.display()),
        })?;
        signatures.stores.push(SignatureStore::parse(url.as_str())?);
    }
    let mirror_opts = MirrorOptions {
        sigstore: !signatures.skip,
        signatures,
        to_release_image: opts.to_release_image.clone(),
        dry_run: opts.dry_run,
        max_per_registry: opts.max_per_registry,
        retry: opts.retry.clone(),
        namespace: opts.namespace.clone(),
        ..MirrorOptions::new(opts.to.clone())
    };
    mirror_releases(&source, client, &request, &mirror_opts, progress).await
}
