//! Sigstore signatures in the plan: each image's `sha256-<hex>.sig` tag becomes an optional
//! job the image waits for, so a release tag is still written last.

use std::collections::BTreeSet;

use super::plan::JobState;
use super::{CopyJob, Role};
use crate::digest::Digest;
use crate::reference::{Repository, Target};

/// The sigstore signature tag of `digest`: `sha256-<hex>.sig`, beside the image.
pub fn signature_tag(digest: &Digest) -> String {
    format!("sha256-{}.sig", digest.hex())
}

/// Adds an optional signature job for each image (and each child of a list) that is not
/// already complete, and makes the image wait for it.
pub(super) fn add_signature_jobs(
    jobs: &mut Vec<CopyJob>,
    states: &[JobState],
    digests: &[Option<Digest>],
) {
    let count = states.len();
    let mut followers: Vec<Vec<usize>> = vec![Vec::new(); count];
    for (j, job) in jobs.iter().enumerate().take(count) {
        for &k in &job.after {
            followers[k].push(j);
        }
    }
    // Complete: present, and so is everything that waits for it (a release tag written last
    // means its signatures were handled then).
    let mut complete = vec![false; count];
    for j in (0..count).rev() {
        complete[j] =
            matches!(states[j], JobState::Present) && followers[j].iter().all(|&k| complete[k]);
    }
    let mut seen: BTreeSet<(Repository, String)> = BTreeSet::new();
    for j in 0..count {
        if complete[j] || jobs[j].role == Role::Signature {
            continue;
        }
        let Some(digest) = &digests[j] else { continue };
        let mut wanted = vec![digest.clone()];
        if let JobState::Copy(tree) = &states[j] {
            wanted.extend(tree.children.iter().map(|c| c.digest.clone()));
        }
        for d in wanted {
            let tag = signature_tag(&d);
            if !seen.insert((jobs[j].dst.clone(), tag.clone())) {
                continue;
            }
            let job = &jobs[j];
            let mut sig = CopyJob::new(
                format!("{} signature", job.name),
                job.src.clone(),
                Target::Tag(tag.clone()),
                job.dst.clone(),
                Some(tag),
            )
            .optional();
            sig.role = Role::Signature;
            let k = jobs.len();
            jobs.push(sig);
            jobs[j].after.push(k);
        }
    }
}
