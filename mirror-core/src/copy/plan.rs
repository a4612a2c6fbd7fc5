//! The read-only phase: what the target holds, what must be copied, where blobs come from.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use futures_util::{StreamExt as _, TryStreamExt as _};

use super::endpoint::{RepoState, Sink, Source};
use super::mount::{self, How, Step};
use super::{CopyJob, CopyOptions, CopyPlan, Role};
use crate::digest::Digest;
use crate::error::Error;
use crate::manifest::tree::{ImageTree, fetch_tree, missing};
use crate::progress::{BlobAction, MirrorEvent, Progress};
use crate::reference::{Repository, Target};

/// What a job needs.
#[derive(Clone, Debug)]
pub(crate) enum JobState {
    /// Its tag already points at the right digest.
    Present,
    /// Optional, and the source does not have it.
    Absent,
    /// The manifest is at the target; only the tag is written.
    Tag(Digest),
    /// To copy.
    Copy(ImageTree),
}

/// A blob to bring into target repositories.
#[derive(Clone, Debug)]
pub(crate) struct BlobTask {
    pub(crate) size: u64,
    pub(crate) src: Repository,
    /// How each target repository that lacks it gets it, in order.
    pub(crate) steps: Vec<Step>,
    /// The jobs whose images reference it.
    pub(crate) jobs: Vec<usize>,
    /// For errors: the first image that needs it.
    pub(crate) used_by: String,
}

/// The outcome of [`plan`], the input of [`super::execute`].
#[derive(Debug)]
pub struct Planned {
    /// The figures.
    pub summary: CopyPlan,
    /// Every job: the ones asked for, then the signature jobs the plan added.
    pub(crate) jobs: Vec<CopyJob>,
    pub(crate) states: Vec<JobState>,
    pub(crate) tasks: BTreeMap<Digest, BlobTask>,
    /// Per job, the blobs its image needs that the target lacks (digest, size).
    pub(crate) needs: Vec<Vec<(Digest, u64)>>,
    /// Blobs already at the target: (count, bytes).
    pub(crate) skipped: (usize, u64),
    /// The digest each job's image has (resolved for tag references), when known.
    pub(crate) digests: Vec<Option<Digest>>,
}

impl Planned {
    /// Blobs and bytes each group of jobs adds, in order: a blob a group needs counts for the
    /// first group that needs it and never again, and nothing the target holds counts. The
    /// signature jobs a job waits for count with it.
    pub fn added_by(&self, groups: &[Vec<usize>]) -> Vec<(usize, u64)> {
        let mut seen: BTreeSet<&Digest> = BTreeSet::new();
        groups
            .iter()
            .map(|jobs| {
                let mut n = (0usize, 0u64);
                let with_signatures = jobs.iter().flat_map(|&j| {
                    std::iter::once(j).chain(
                        self.jobs[j]
                            .after
                            .iter()
                            .copied()
                            .filter(|&k| self.jobs[k].role == Role::Signature),
                    )
                });
                for j in with_signatures {
                    for (d, size) in self.needs.get(j).into_iter().flatten() {
                        if seen.insert(d) {
                            n.0 += 1;
                            n.1 += size;
                        }
                    }
                }
                n
            })
            .collect()
    }

    /// Blobs the target already holds: (count, bytes).
    pub fn skipped(&self) -> (usize, u64) {
        self.skipped
    }

    /// Every job: the ones asked for (same indices), then the signature jobs added.
    pub fn jobs(&self) -> &[CopyJob] {
        &self.jobs
    }

    /// The digest of job `j`'s image, once known (tag references are resolved when planning;
    /// `None` for an optional image the source does not have).
    pub fn digest(&self, j: usize) -> Option<&Digest> {
        self.digests.get(j).and_then(Option::as_ref)
    }

    /// The media type of job `j`'s image, when the plan read it (images to copy).
    pub fn media_type(&self, j: usize) -> Option<&str> {
        match self.states.get(j) {
            Some(JobState::Copy(t)) => Some(&t.media_type),
            _ => None,
        }
    }

    /// Whether job `j`'s image is at the target after the copy (not an absent optional one).
    pub fn is_there(&self, j: usize) -> bool {
        !matches!(self.states.get(j), Some(JobState::Absent) | None)
    }
}

/// Reads what the copy of `jobs` needs; writes nothing. With `opts.sigstore`, each image's
/// sigstore signature tag (`sha256-<hex>.sig`, and those of a list's children) becomes an
/// optional job the image waits for, unless the image and every image waiting for it are
/// already complete at the target.
pub async fn plan<S: Source, K: Sink>(
    source: &S,
    sink: &K,
    jobs: Vec<CopyJob>,
    opts: &CopyOptions,
    progress: &Arc<dyn Progress>,
) -> Result<Planned, Error> {
    check_jobs(&jobs, opts)?;
    let n = opts.max_in_flight;
    let mut jobs = jobs;
    let repos = repo_states(sink, &jobs, n).await;
    let (mut states, mut digests) = job_states(source, sink, &jobs, &repos, n).await?;
    if opts.sigstore {
        let first = jobs.len();
        super::sigstore::add_signature_jobs(&mut jobs, &states, &digests);
        let (s, d) = job_states(source, sink, &jobs[first..], &repos, n).await?;
        states.extend(s);
        digests.extend(d);
    }

    let mut summary = CopyPlan::default();
    let mut blobs = Blobs::collect(&jobs, &states, &mut summary);
    let (missing_in, skipped) = blobs.subtract_present(sink, &repos, n, progress).await?;
    let (mut tasks, per_job) = (blobs.tasks, blobs.per_job);
    summary.blobs_to_copy = tasks.len();
    summary.bytes_to_copy = tasks.values().map(|t| t.size).sum();

    plan_sources(
        source,
        sink,
        &jobs,
        &mut tasks,
        &missing_in,
        &digests,
        n,
        &mut summary,
    )
    .await?;
    progress.event(MirrorEvent::Planned(&summary));
    Ok(Planned {
        summary,
        jobs,
        states,
        tasks,
        needs: per_job,
        skipped,
        digests,
    })
}

/// The blobs of the images to copy, deduplicated across all of them.
struct Blobs {
    tasks: BTreeMap<Digest, BlobTask>,
    /// The target repositories that may lack each blob.
    wanted: BTreeMap<Digest, Vec<Repository>>,
    /// Per job, its image's blobs (each once).
    per_job: Vec<Vec<(Digest, u64)>>,
}

impl Blobs {
    /// Counts every job into `summary` and gathers the blobs of those to copy.
    fn collect(jobs: &[CopyJob], states: &[JobState], summary: &mut CopyPlan) -> Self {
        let mut b = Blobs {
            tasks: BTreeMap::new(),
            wanted: BTreeMap::new(),
            per_job: vec![Vec::new(); jobs.len()],
        };
        for (j, (job, state)) in jobs.iter().zip(states).enumerate() {
            summary.count(job.role, state);
            let JobState::Copy(tree) = state else {
                continue;
            };
            for blob in tree.blobs() {
                let t = b
                    .tasks
                    .entry(blob.digest.clone())
                    .or_insert_with(|| BlobTask {
                        size: blob.size,
                        src: job.src.clone(),
                        steps: Vec::new(),
                        jobs: Vec::new(),
                        used_by: job.label(),
                    });
                if !t.jobs.contains(&j) {
                    t.jobs.push(j);
                    b.per_job[j].push((blob.digest.clone(), blob.size));
                }
                let w = b.wanted.entry(blob.digest).or_default();
                if !w.contains(&job.dst) {
                    w.push(job.dst.clone());
                }
            }
        }
        summary.unique_blobs = b.tasks.len();
        summary.unique_bytes = b.tasks.values().map(|t| t.size).sum();
        b
    }

    /// Drops what the target holds (a `HEAD` per blob and repository that may hold it, none
    /// where the repository is missing): returns where each remaining blob is missing, and
    /// the blobs skipped (count, bytes).
    async fn subtract_present<K: Sink>(
        &mut self,
        sink: &K,
        repos: &BTreeMap<Repository, RepoState>,
        n: usize,
        progress: &Arc<dyn Progress>,
    ) -> Result<(BTreeMap<Digest, Vec<Repository>>, (usize, u64)), Error> {
        let checks: Vec<(Digest, Repository)> = self
            .wanted
            .iter()
            .flat_map(|(d, rs)| rs.iter().map(move |r| (d.clone(), r.clone())))
            .filter(|(_, r)| repos[r] != RepoState::Missing)
            .collect();
        let present: BTreeSet<(Digest, Repository)> = futures_util::stream::iter(checks)
            .map(|(d, r)| async move {
                let there = sink.has_blob(&r, &d).await?;
                Ok::<_, Error>(there.then_some((d, r)))
            })
            .buffer_unordered(n)
            .try_filter_map(|x| async move { Ok(x) })
            .try_collect()
            .await?;
        let mut skipped = (0usize, 0u64);
        let mut missing_in: BTreeMap<Digest, Vec<Repository>> = BTreeMap::new();
        for (d, repos_wanting) in std::mem::take(&mut self.wanted) {
            let lacking: Vec<Repository> = repos_wanting
                .into_iter()
                .filter(|r| !present.contains(&(d.clone(), r.clone())))
                .collect();
            if lacking.is_empty() {
                let size = self.tasks.remove(&d).map(|t| t.size).unwrap_or(0);
                skipped.0 += 1;
                skipped.1 += size;
                progress.event(MirrorEvent::Blob {
                    digest: &d,
                    size,
                    action: BlobAction::Skipped,
                });
            } else {
                missing_in.insert(d, lacking);
            }
        }
        let tasks = &self.tasks;
        for needs in &mut self.per_job {
            needs.retain(|(d, _)| tasks.contains_key(d));
        }
        Ok((missing_in, skipped))
    }
}

fn check_jobs(jobs: &[CopyJob], opts: &CopyOptions) -> Result<(), Error> {
    if opts.max_in_flight == 0 {
        return Err(Error::InvalidSetting {
            name: "max-per-registry".into(),
            reason: "must be at least 1".into(),
        });
    }
    // No job waits, directly or not, for itself (Kahn's algorithm reaches every job).
    let mut waiting: Vec<usize> = jobs.iter().map(|j| j.after.len()).collect();
    let mut followers: Vec<Vec<usize>> = vec![Vec::new(); jobs.len()];
    for (j, job) in jobs.iter().enumerate() {
        for &k in &job.after {
            let Some(f) = followers.get_mut(k) else {
                return Err(Error::InvalidSetting {
                    name: "jobs".into(),
                    reason: format!(
                        "`{}` is to come after job {k}, which does not exist",
                        job.name
                    ),
                });
            };
            f.push(j);
        }
    }
    let mut ready: Vec<usize> = (0..jobs.len()).filter(|&j| waiting[j] == 0).collect();
    let mut done = 0;
    while let Some(j) = ready.pop() {
        done += 1;
        for &k in &followers[j] {
            waiting[k] -= 1;
            if waiting[k] == 0 {
                ready.push(k);
            }
        }
    }
    if done < jobs.len() {
        return Err(Error::InvalidSetting {
            name: "jobs".into(),
            reason: "some images wait for each other".into(),
        });
    }
    Ok(())
}

impl CopyPlan {
    /// Counts one job: images by what they need, signatures by whether the source has them.
    fn count(&mut self, role: Role, state: &JobState) {
        if role == Role::Signature {
            match state {
                JobState::Absent => self.signatures_absent += 1,
                JobState::Copy(_) => {
                    self.signatures += 1;
                    self.signatures_to_copy += 1;
                }
                _ => self.signatures += 1,
            }
            return;
        }
        self.images += 1;
        match state {
            JobState::Present | JobState::Absent => self.images_present += 1,
            JobState::Tag(_) => self.images_to_tag += 1,
            JobState::Copy(_) => self.images_to_copy += 1,
        }
    }
}

/// The states (and image digests) of `jobs`, `n` at once.
async fn job_states<S: Source, K: Sink>(
    source: &S,
    sink: &K,
    jobs: &[CopyJob],
    repos: &BTreeMap<Repository, RepoState>,
    n: usize,
) -> Result<(Vec<JobState>, Vec<Option<Digest>>), Error> {
    let states: Vec<(JobState, Option<Digest>)> = futures_util::stream::iter(jobs.iter())
        .map(|job| async move {
            job_state(source, sink, job, &repos[&job.dst])
                .await
                .map_err(|e| wrap(job, e))
        })
        .buffered(n)
        .try_collect()
        .await?;
    Ok(states.into_iter().unzip())
}

/// One tag list per target repository.
async fn repo_states<K: Sink>(
    sink: &K,
    jobs: &[CopyJob],
    n: usize,
) -> BTreeMap<Repository, RepoState> {
    let repos: BTreeSet<&Repository> = jobs.iter().map(|j| &j.dst).collect();
    futures_util::stream::iter(repos)
        .map(|r| async move { (r.clone(), sink.repo_state(r).await) })
        .buffer_unordered(n)
        .collect()
        .await
}

/// What one job needs, and its image's digest.
async fn job_state<S: Source, K: Sink>(
    source: &S,
    sink: &K,
    job: &CopyJob,
    repo: &RepoState,
) -> Result<(JobState, Option<Digest>), Error> {
    // A tag at the source is read first: its digest is what the target must hold.
    let mut tree = None;
    let digest = match &job.reference {
        Target::Digest(d) => d.clone(),
        Target::Tag(t) => match fetch_tree(source, &job.src, t).await? {
            Some(found) => {
                let d = found.digest.clone();
                tree = Some(found);
                d
            }
            None if job.optional => return Ok((JobState::Absent, None)),
            None => {
                return Err(Error::Registry {
                    op: "get manifest",
                    target: job.src.display_ref(t),
                    status: 404,
                    code: Some("MANIFEST_UNKNOWN".into()),
                    message: Some("no such tag".into()),
                    tries: 1,
                    auth_entry: None,
                    retry_after: None,
                });
            }
        },
    };
    // A 404 tag list means no tags, not no repository: distribution answers a repository that
    // holds only untagged manifests (an image mirrored by digest alone) the same way. So an
    // untagged image is still looked up by digest there; a tagged one cannot be present.
    let may_hold = |reference: &str| match repo {
        RepoState::Missing => job.tag.is_none() && reference.starts_with("sha256:"),
        RepoState::Tags(tags) => reference.starts_with("sha256:") || tags.contains(reference),
        RepoState::Unknown => true,
    };
    if let Some(tag) = &job.tag
        && may_hold(tag)
        && sink.manifest_digest(&job.dst, tag).await?.as_ref() == Some(&digest)
    {
        return Ok((JobState::Present, Some(digest)));
    }
    if may_hold(digest.as_str())
        && sink
            .manifest_digest(&job.dst, digest.as_str())
            .await?
            .is_some()
    {
        let state = if job.tag.is_some() {
            JobState::Tag(digest.clone())
        } else {
            JobState::Present
        };
        return Ok((state, Some(digest)));
    }
    let mut tree = match tree {
        Some(t) => t,
        None => match fetch_tree(source, &job.src, digest.as_str()).await? {
            Some(t) => t,
            None if job.optional => return Ok((JobState::Absent, None)),
            None => return Err(missing(&job.src, &digest)),
        },
    };
    if *repo != RepoState::Missing {
        for child in &mut tree.children {
            child.present = sink
                .manifest_digest(&job.dst, child.digest.as_str())
                .await?
                .is_some();
        }
    }
    Ok((JobState::Copy(tree), Some(digest)))
}

/// Where each missing blob comes from (target registries only: mounts).
#[allow(clippy::too_many_arguments)]
async fn plan_sources<S: Source, K: Sink>(
    source: &S,
    sink: &K,
    jobs: &[CopyJob],
    tasks: &mut BTreeMap<Digest, BlobTask>,
    missing_in: &BTreeMap<Digest, Vec<Repository>>,
    digests: &[Option<Digest>],
    n: usize,
    summary: &mut CopyPlan,
) -> Result<(), Error> {
    let same_registry_source = source.is_registry();
    let (sources, held_by) = match sink.registry() {
        Some(client) if !tasks.is_empty() => {
            let mut targets: Vec<Repository> = Vec::new();
            for j in jobs {
                if !targets.contains(&j.dst) {
                    targets.push(j.dst.clone());
                }
            }
            // An earlier mirror holds the last release image of the run (else its last image).
            let marker = jobs
                .iter()
                .zip(digests)
                .rev()
                .filter(|(j, _)| j.role != Role::Signature)
                .find_map(|(j, d)| d.as_ref().filter(|_| j.role == Role::Release))
                .or_else(|| {
                    jobs.iter()
                        .zip(digests)
                        .rev()
                        .filter(|(j, _)| j.role != Role::Signature)
                        .find_map(|(_, d)| d.as_ref())
                });
            let sources = match marker {
                Some(m) => mount::find_sources(client, &targets, m, n).await,
                None => BTreeMap::new(),
            };
            let checks: Vec<(Digest, Repository)> = tasks
                .iter()
                .flat_map(|(d, t)| {
                    mount::registries_to_check(&missing_in[d], &t.src)
                        .into_iter()
                        .filter_map(|reg| sources.get(&reg).cloned())
                        .map(move |r| (d.clone(), r))
                })
                .collect();
            let held: Vec<(Digest, String)> = futures_util::stream::iter(checks)
                .map(|(d, r)| async move {
                    let there = client.blob_exists(&r, &d).await?.is_some();
                    Ok::<_, Error>(there.then_some((d, r.registry)))
                })
                .buffer_unordered(n)
                .try_filter_map(|x| async move { Ok(x) })
                .try_collect()
                .await?;
            let mut held_by: BTreeMap<Digest, BTreeSet<String>> = BTreeMap::new();
            for (d, reg) in held {
                held_by.entry(d).or_default().insert(reg);
            }
            (sources, held_by)
        }
        _ => (BTreeMap::new(), BTreeMap::new()),
    };
    summary.mount_sources = sources.values().map(|r| r.to_string()).collect();
    let none = BTreeSet::new();
    let mountable = sink.registry().is_some();
    for (d, t) in tasks.iter_mut() {
        t.steps = if mountable {
            mount::steps_for(
                &missing_in[d],
                same_registry_source.then_some(&t.src),
                &sources,
                held_by.get(d).unwrap_or(&none),
            )
        } else {
            missing_in[d]
                .iter()
                .map(|r| Step {
                    dst: r.clone(),
                    how: How::Upload,
                })
                .collect()
        };
        for s in &t.steps {
            if s.how == How::Upload {
                summary.blobs_to_upload += 1;
                summary.bytes_to_upload += t.size;
            } else {
                summary.blobs_to_mount += 1;
                summary.bytes_to_mount += t.size;
            }
        }
    }
    Ok(())
}

/// Names the image an error belongs to.
pub(crate) fn wrap(job: &CopyJob, e: Error) -> Error {
    match e {
        Error::Image { .. } => e,
        e => Error::Image {
            image: job.label(),
            source: Box::new(e),
        },
    }
}
