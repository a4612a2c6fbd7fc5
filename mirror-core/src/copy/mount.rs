//! Where each missing blob comes from: uploaded from the source, or mounted from a repository
//! of the target registry that already has it.
//!
//! Decided once, before anything is written, so that a dry run tells how many blobs and bytes
//! will be mounted and how many uploaded, and the copy does what the plan said (a mount the
//! registry refuses still falls back to an upload). Finding a mount source only reads: the
//! target's `_catalog`, a `HEAD` of the release manifest per listed repository, and a `HEAD`
//! per blob in the one repository chosen.

use std::collections::{BTreeMap, BTreeSet};

use futures_util::StreamExt as _;

use crate::digest::Digest;
use crate::reference::Repository;
use crate::registry::RegistryClient;

/// Repositories of a registry's `_catalog` looked at for an earlier mirror of the release.
pub(crate) const CATALOG_LIMIT: usize = 200;

/// How one target repository gets a blob.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum How {
    /// Streamed from the source.
    Upload,
    /// Mounted from this repository path of the same registry.
    Mount(String),
}

/// One target repository and how it gets the blob; steps run in order, so a mount from a
/// repository filled in this run comes after its upload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Step {
    pub(crate) dst: Repository,
    pub(crate) how: How,
}

/// For each registry of `targets`, a repository that is not one of `targets` and already holds
/// the manifest `release` (an earlier mirror of the same release), found through `_catalog`.
/// A registry whose catalog cannot be read (not allowed, not supported) simply has none: this
/// only saves uploads and must never fail a mirror.
pub(crate) async fn find_sources(
    client: &RegistryClient,
    targets: &[Repository],
    release: &Digest,
    n: usize,
) -> BTreeMap<String, Repository> {
    let mut registries: BTreeMap<String, &Repository> = BTreeMap::new();
    for t in targets {
        registries.entry(t.registry.clone()).or_insert(t);
    }
    let mut found = BTreeMap::new();
    for (registry, any) in registries {
        let Ok(names) = client.catalog(any, CATALOG_LIMIT).await else {
            continue;
        };
        let candidates: Vec<Repository> = names
            .into_iter()
            .map(|path| Repository {
                registry: registry.clone(),
                path,
            })
            .filter(|r| !targets.contains(r))
            .collect();
        // In catalog order (sorted by the registry), the first that holds the release.
        let held: Vec<(usize, bool)> = futures_util::stream::iter(candidates.iter().enumerate())
            .map(|(i, r)| async move {
                let there = client
                    .head_manifest(r, release.as_str())
                    .await
                    .is_ok_and(|d| d.is_some());
                (i, there)
            })
            .buffer_unordered(n)
            .collect()
            .await;
        if let Some(i) = held.iter().filter(|(_, t)| *t).map(|(i, _)| *i).min() {
            found.insert(registry, candidates[i].clone());
        }
    }
    found
}

/// The steps that bring a blob into every repository of `missing`: a repository of a registry
/// that got it earlier in this list mounts from there; else one on the registry of `src` (a
/// source that is a registry) mounts from the source repository; else one whose registry has a mount source that holds
/// the blob (`held`) mounts from it; else it is uploaded.
pub(crate) fn steps_for(
    missing: &[Repository],
    src: Option<&Repository>,
    sources: &BTreeMap<String, Repository>,
    held: &BTreeSet<String>,
) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::with_capacity(missing.len());
    for dst in missing {
        let how = if let Some(earlier) = steps.iter().find(|s| s.dst.registry == dst.registry) {
            How::Mount(earlier.dst.path.clone())
        } else if let Some(src) = src
            && src.registry == dst.registry
            && src.path != dst.path
        {
            How::Mount(src.path.clone())
        } else if held.contains(&dst.registry)
            && let Some(from) = sources.get(&dst.registry)
        {
            How::Mount(from.path.clone())
        } else {
            How::Upload
        };
        steps.push(Step {
            dst: dst.clone(),
            how,
        });
    }
    steps
}

/// The registries among `missing` for which the blob would be uploaded unless a mount source
/// holds it: the ones [`steps_for`] asks `held` about.
pub(crate) fn registries_to_check(missing: &[Repository], src: &Repository) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for dst in missing {
        if !out.contains(&dst.registry) && dst.registry != src.registry {
            out.push(dst.registry.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo(s: &str) -> Repository {
        Repository::parse(s).unwrap()
    }

    #[test]
    fn steps() {
        let src = repo("quay.io/openshift-release-dev/ocp-v4.0-art-dev");
        let a = repo("mirror:5000/ocp4/openshift4");
        let rel = repo("mirror:5000/ocp4/release");
        let other = repo("other:5000/ocp4/openshift4");
        let local_src = repo("mirror:5000/upstream/art-dev");
        let sources: BTreeMap<String, Repository> = [(
            "mirror:5000".to_string(),
            repo("mirror:5000/old/openshift4"),
        )]
        .into();
        let held: BTreeSet<String> = ["mirror:5000".to_string()].into();
        let none = BTreeSet::new();
        let up = |r: &Repository| Step {
            dst: r.clone(),
            how: How::Upload,
        };
        let mount = |r: &Repository, from: &str| Step {
            dst: r.clone(),
            how: How::Mount(from.into()),
        };
        type Row<'a> = (
            Vec<Repository>,
            &'a Repository,
            &'a BTreeSet<String>,
            Vec<Step>,
        );
        let table: Vec<Row> = vec![
            // Nothing to mount from: upload once, then mount within the registry.
            (
                vec![a.clone(), rel.clone()],
                &src,
                &none,
                vec![up(&a), mount(&rel, "ocp4/openshift4")],
            ),
            // An earlier mirror holds it: every repository mounts.
            (
                vec![a.clone(), rel.clone()],
                &src,
                &held,
                vec![mount(&a, "old/openshift4"), mount(&rel, "ocp4/openshift4")],
            ),
            // Another registry uploads.
            (
                vec![a.clone(), other.clone()],
                &src,
                &held,
                vec![mount(&a, "old/openshift4"), up(&other)],
            ),
            // A source on the target registry is mounted from directly.
            (
                vec![a.clone()],
                &local_src,
                &none,
                vec![mount(&a, "upstream/art-dev")],
            ),
        ];
        for (missing, src, held, want) in table {
            assert_eq!(
                steps_for(&missing, Some(src), &sources, held),
                want,
                "{missing:?}"
            );
        }
        assert_eq!(
            registries_to_check(&[a.clone(), rel, other], &src),
            vec!["mirror:5000".to_string(), "other:5000".to_string()]
        );
        assert_eq!(
            registries_to_check(std::slice::from_ref(&a), &local_src),
            Vec::<String>::new()
        );
        // A source that is no registry (a bundle) is never mounted from.
        assert_eq!(
            steps_for(std::slice::from_ref(&a), None, &sources, &none),
            vec![up(&a)]
        );
    }
}
