//! Mirroring OpenShift releases (docs/release-mirror.md): the release read and validated,
//! one copy job per component (`<to>:<version>-<arch>-<component>`) and one for the release
//! image (`<to>:<version>-<arch>`), which comes after all of its components, so that its tag
//! at the target means the release is complete. Several releases share one plan: a blob they
//! have in common is copied once.

use std::sync::Arc;
use std::time::Instant;

use super::payload::{Release, read_release};
pub use super::report::{ImageEntry, MirrorReport, ReleaseEntry};
use super::signature::{SignatureOptions, check_release};
use crate::copy::{
    self, CopyJob, CopyOptions, CopyPlan, DEFAULT_MAX_PER_REGISTRY, Role, Sink, Source,
};
use crate::error::Error;
use crate::progress::{MirrorEvent, Progress};
use crate::reference::{ImageRef, Repository, Target, valid_tag};
use crate::registry::{RegistryClient, RetryPolicy};
use crate::upgrade::AdditionalImage;

/// The figures of a mirror plan (see [`CopyPlan`]).
pub type MirrorPlan = CopyPlan;

/// Settings for [`mirror_release`] and [`mirror_releases`].
#[derive(Clone, Debug)]
pub struct MirrorOptions {
    /// Target repository for components (`--to`), e.g. `mirror.example.com:5000/ocp4/openshift4`.
    pub to: Repository,
    /// Where the release image goes (`--to-release-image`); default `<to>:<version>-<arch>`.
    /// Only with a single release.
    pub to_release_image: Option<ImageRef>,
    /// Plan only; write nothing.
    pub dry_run: bool,
    /// Transfers in flight at once (`--max-per-registry`). Default [`DEFAULT_MAX_PER_REGISTRY`].
    pub max_per_registry: usize,
    /// How a streamed blob copy is retried as a whole (requests are retried by the clients).
    pub retry: RetryPolicy,
    /// Copy each image's sigstore signature tag (`sha256-<hex>.sig`) when the source has one.
    /// Default true.
    pub sigstore: bool,
    /// Where additional images go: `<registry of to>/<namespace>/<their repository path>`.
    /// Default: no namespace.
    pub namespace: String,
    /// Release signatures: checked before anything is copied. Default: verify with the
    /// payload's keys and stores; an unsigned release is a warning.
    pub signatures: SignatureOptions,
}

impl MirrorOptions {
    /// Options with defaults for target `to`.
    pub fn new(to: Repository) -> Self {
        Self {
            to,
            to_release_image: None,
            dry_run: false,
            max_per_registry: DEFAULT_MAX_PER_REGISTRY,
            retry: RetryPolicy::default(),
            sigstore: true,
            namespace: String::new(),
            signatures: SignatureOptions::default(),
        }
    }
}

/// What one run mirrors: releases (each with its components), and images beside them.
#[derive(Clone, Debug, Default)]
pub struct MirrorRequest {
    /// Release images, by tag or digest.
    pub releases: Vec<ImageRef>,
    /// Other images (by tag or digest), kept at their repository path under the namespace.
    pub additional: Vec<AdditionalImage>,
}

/// Mirrors the release `from` from its registry into `opts.to`, digests preserved, release
/// tag last.
///
/// ```no_run
/// # async fn demo() -> Result<(), mirror_core::Error> {
/// use std::sync::Arc;
/// use mirror_core::{ClientOptions, ImageRef, RegistryClient, Repository, release::{MirrorOptions}, progress::{NoProgress}};
/// let client = RegistryClient::new(ClientOptions::default())?;
/// let from = ImageRef::parse("quay.io/openshift-release-dev/ocp-release:4.14.1-x86_64")?;
/// let opts = MirrorOptions::new(Repository::parse("mirror.example.com:5000/ocp4/openshift4")?);
/// let report = mirror_core::mirror_release(&client, &from, &opts, Arc::new(NoProgress)).await?;
/// println!("{} blobs copied", report.blobs_copied);
/// # Ok(()) }
/// ```
pub async fn mirror_release(
    client: &RegistryClient,
    from: &ImageRef,
    opts: &MirrorOptions,
    progress: Arc<dyn Progress>,
) -> Result<MirrorReport, Error> {
    let request = MirrorRequest {
        releases: vec![from.clone()],
        additional: Vec::new(),
    };
    mirror_releases(client, client, &request, opts, progress).await
}

/// Mirrors the releases and images of `request` from `source` into `sink` in one plan: blobs
/// they share are copied once, and each release's tag is written as soon as that release
/// (its components and signatures) is complete.
pub async fn mirror_releases<S: Source, K: Sink>(
    source: &S,
    sink: &K,
    request: &MirrorRequest,
    opts: &MirrorOptions,
    progress: Arc<dyn Progress>,
) -> Result<MirrorReport, Error> {
    let start = Instant::now();
    check_options(request, opts)?;
    let mut releases = Vec::with_capacity(request.releases.len());
    let mut signatures = Vec::with_capacity(request.releases.len());
    for from in &request.releases {
        let release = read_release(source, from, &opts.retry).await?;
        // Before anything is planned or copied: a release whose signature does not verify
        // is not mirrored.
        signatures.push(
            check_release(&release, &opts.signatures, opts.dry_run, progress.as_ref()).await?,
        );
        progress.event(MirrorEvent::ReleaseRead {
            version: &release.version,
            digest: &release.digest,
            images: release.components.len() + 1,
        });
        releases.push(release);
    }
    let (jobs, groups) = all_jobs(&releases, request, opts)?;
    let copy_opts = CopyOptions {
        max_in_flight: opts.max_per_registry,
        retry: opts.retry.clone(),
        sigstore: opts.sigstore,
    };
    let planned = copy::plan(source, sink, jobs, &copy_opts, &progress).await?;
    let outcome = if opts.dry_run {
        copy::CopyOutcome::default()
    } else {
        copy::execute(source, sink, &planned, &copy_opts, &progress).await?
    };
    Ok(super::report::build(super::report::Run {
        request,
        opts,
        releases: &releases,
        signatures,
        groups: &groups,
        planned: &planned,
        outcome,
        duration: start.elapsed(),
    }))
}

/// Every job of the run: each release's components then its image (after them), then the
/// additional images; and, per release, the indices of its jobs.
fn all_jobs(
    releases: &[Release],
    request: &MirrorRequest,
    opts: &MirrorOptions,
) -> Result<(Vec<CopyJob>, Vec<Vec<usize>>), Error> {
    let mut jobs = Vec::new();
    let mut groups = Vec::new();
    for release in releases {
        let first = jobs.len();
        jobs.extend(jobs_for(release, opts)?.into_iter().map(|j| {
            let after: Vec<usize> = j.after.iter().map(|k| k + first).collect();
            CopyJob { after, ..j }
        }));
        groups.push((first..jobs.len()).collect::<Vec<usize>>());
    }
    for a in &request.additional {
        let to = a.mirror_image(&opts.to.registry, &opts.namespace);
        jobs.push(
            CopyJob::new(
                a.name.clone(),
                a.image.repo.clone(),
                a.image.target.clone(),
                to.repo,
                match &a.image.target {
                    Target::Tag(t) => Some(t.clone()),
                    Target::Digest(_) => None,
                },
            )
            .role(Role::Additional),
        );
    }
    Ok((jobs, groups))
}

fn check_options(request: &MirrorRequest, opts: &MirrorOptions) -> Result<(), Error> {
    let froms = &request.releases;
    if froms.is_empty() && request.additional.is_empty() {
        return Err(Error::InvalidSetting {
            name: "from".into(),
            reason: "nothing to mirror: no release and no image".into(),
        });
    }
    if let Some(r) = &opts.to_release_image {
        if !matches!(r.target, Target::Tag(_)) {
            return Err(Error::InvalidSetting {
                name: "to-release-image".into(),
                reason: format!("`{r}` must name a tag, not a digest"),
            });
        }
        if froms.len() > 1 {
            return Err(Error::InvalidSetting {
                name: "to-release-image".into(),
                reason: "names one place, but several releases are mirrored".into(),
            });
        }
    }
    Ok(())
}

/// The copy jobs of one release: its components, then the release image after all of them.
fn jobs_for(release: &Release, opts: &MirrorOptions) -> Result<Vec<CopyJob>, Error> {
    let prefix = format!("{}-{}", release.version, release.architecture);
    let mut jobs = Vec::with_capacity(release.components.len() + 1);
    for c in &release.components {
        let tag = format!("{prefix}-{}", c.name);
        if !valid_tag(&tag) {
            return Err(Error::Payload {
                image: release.image.to_string(),
                reason: format!("component `{}` gives the invalid tag `{tag}`", c.name),
            });
        }
        jobs.push(CopyJob::new(
            c.name.clone(),
            c.image.repo.clone(),
            Target::Digest(c.digest.clone()),
            opts.to.clone(),
            Some(tag),
        ));
    }
    let (dst, tag) = match &opts.to_release_image {
        Some(r) => (r.repo.clone(), r.target.as_str().to_string()),
        None => (opts.to.clone(), prefix),
    };
    let components = 0..jobs.len();
    jobs.push(
        CopyJob::new(
            "release",
            release.image.repo.clone(),
            Target::Digest(release.digest.clone()),
            dst,
            Some(tag),
        )
        .role(Role::Release)
        .after(components),
    );
    Ok(jobs)
}
