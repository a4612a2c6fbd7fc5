//! The writing phase: blobs, then each image's manifests as soon as it can be written.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use futures_util::StreamExt as _;

use super::endpoint::{Mounted, Sink, Source};
use super::mount::How;
use super::plan::{BlobTask, JobState, Planned, wrap};
use super::{CopyJob, CopyOptions};
use crate::digest::Digest;
use crate::error::Error;
use crate::progress::{BlobAction, ImageAction, MirrorEvent, Progress};
use crate::reference::Repository;
use crate::registry::{RetryHook, retrying};
use crate::verify::VerifyingStream;

/// What [`execute`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CopyOutcome {
    /// Blobs copied.
    pub blobs_copied: usize,
    /// Bytes copied.
    pub bytes_copied: u64,
    /// Blobs mounted.
    pub blobs_mounted: usize,
    /// Bytes mounted.
    pub bytes_mounted: u64,
    /// Blobs already at the target.
    pub blobs_skipped: usize,
    /// Their bytes.
    pub bytes_skipped: u64,
}

#[derive(Default)]
struct Counters {
    blobs_copied: AtomicUsize,
    bytes_copied: AtomicU64,
    blobs_mounted: AtomicUsize,
    bytes_mounted: AtomicU64,
}

/// The order blobs start in: the big ones first, largest first, so that no big layer starts
/// late and ends the run as a single stream while the other slots idle; then the rest in the
/// order of the first image that needs them, so images complete one by one. "Big" is at
/// least an eighth of what one of the `slots` transfers carries on average.
fn blob_order(tasks: &BTreeMap<Digest, BlobTask>, slots: usize) -> Vec<(&Digest, &BlobTask)> {
    let total: u64 = tasks.values().map(|t| t.size).sum();
    let big = total / (8 * slots.max(1) as u64).max(1);
    let mut order: Vec<(&Digest, &BlobTask)> = tasks.iter().collect();
    order.sort_by_key(|(d, t)| {
        let first_image = t.jobs.iter().min().copied().unwrap_or(usize::MAX);
        if t.size >= big && big > 0 {
            (0, std::cmp::Reverse(t.size), 0, *d)
        } else {
            (1, std::cmp::Reverse(0), first_image, *d)
        }
    });
    order
}

/// Copies what `planned` says: every missing blob once, then each image when its blobs are in
/// and the images it comes after are complete.
pub async fn execute<S: Source, K: Sink>(
    source: &S,
    sink: &K,
    planned: &Planned,
    opts: &CopyOptions,
    progress: &Arc<dyn Progress>,
) -> Result<CopyOutcome, Error> {
    let n = opts.max_in_flight.max(1);
    let jobs: &[CopyJob] = &planned.jobs;
    let counters = Counters::default();
    let hook = retry_hook(progress.clone());
    let mut blobs_left = vec![0usize; jobs.len()];
    for t in planned.tasks.values() {
        for &j in &t.jobs {
            blobs_left[j] += 1;
        }
    }
    let mut waiting: Vec<usize> = jobs.iter().map(|j| j.after.len()).collect();
    let mut followers: Vec<Vec<usize>> = vec![Vec::new(); jobs.len()];
    for (j, job) in jobs.iter().enumerate() {
        for &k in &job.after {
            followers[k].push(j);
        }
    }
    let order = blob_order(&planned.tasks, n);
    let mut blobs = futures_util::stream::iter(order)
        .map(|(digest, task)| {
            let (progress, hook, counters) = (progress, &hook, &counters);
            async move {
                copy_blob(source, sink, digest, task, opts, hook, counters, progress)
                    .await
                    .map(|()| task)
            }
        })
        .buffer_unordered(n);
    let finish = |j: usize| async move {
        finish_image(sink, &jobs[j], &planned.states[j], progress.as_ref())
            .await
            .map_err(|e| wrap(&jobs[j], e))
            .map(|()| j)
    };
    let mut ready: VecDeque<usize> = (0..jobs.len())
        .filter(|&j| blobs_left[j] == 0 && waiting[j] == 0)
        .collect();
    let mut pushing = futures_util::stream::FuturesUnordered::new();
    let mut blobs_done = false;
    let mut finished = 0usize;
    while finished < jobs.len() {
        while pushing.len() < n
            && let Some(j) = ready.pop_front()
        {
            pushing.push(finish(j));
        }
        tokio::select! {
            next = blobs.next(), if !blobs_done => match next {
                Some(task) => {
                    for &j in &task?.jobs {
                        blobs_left[j] -= 1;
                        if blobs_left[j] == 0 && waiting[j] == 0 {
                            ready.push_back(j);
                        }
                    }
                }
                None => blobs_done = true,
            },
            Some(done) = pushing.next(), if !pushing.is_empty() => {
                let j = done?;
                finished += 1;
                for &k in &followers[j] {
                    waiting[k] -= 1;
                    if waiting[k] == 0 && blobs_left[k] == 0 {
                        ready.push_back(k);
                    }
                }
            },
            else => {
                return Err(Error::InvalidSetting {
                    name: "jobs".into(),
                    reason: "some images wait for each other".into(),
                });
            }
        }
    }
    Ok(CopyOutcome {
        blobs_copied: counters.blobs_copied.load(Ordering::Relaxed),
        bytes_copied: counters.bytes_copied.load(Ordering::Relaxed),
        blobs_mounted: counters.blobs_mounted.load(Ordering::Relaxed),
        bytes_mounted: counters.bytes_mounted.load(Ordering::Relaxed),
        blobs_skipped: planned.skipped.0,
        bytes_skipped: planned.skipped.1,
    })
}

/// Retries of whole copies, told as progress events.
fn retry_hook(progress: Arc<dyn Progress>) -> RetryHook {
    RetryHook::new(move |n| {
        let what = format!("{} `{}`", n.op, n.target);
        progress.event(MirrorEvent::Retrying {
            what: &what,
            attempt: n.attempt,
            delay: n.delay,
            reason: n.reason.clone(),
        })
    })
}

/// Brings one blob into every repository that lacks it, following the planned steps.
#[allow(clippy::too_many_arguments)]
async fn copy_blob<S: Source, K: Sink>(
    source: &S,
    sink: &K,
    digest: &Digest,
    task: &BlobTask,
    opts: &CopyOptions,
    hook: &RetryHook,
    counters: &Counters,
    progress: &Arc<dyn Progress>,
) -> Result<(), Error> {
    for step in &task.steps {
        let session = match &step.how {
            How::Upload => None,
            How::Mount(from) => match sink.mount(&step.dst, digest, from).await {
                Ok(Mounted::Yes) => {
                    counters.blobs_mounted.fetch_add(1, Ordering::Relaxed);
                    counters
                        .bytes_mounted
                        .fetch_add(task.size, Ordering::Relaxed);
                    progress.event(MirrorEvent::Blob {
                        digest,
                        size: task.size,
                        action: BlobAction::Mounted,
                    });
                    continue;
                }
                Ok(Mounted::No(session)) => session,
                Err(e) => {
                    return Err(Error::Image {
                        image: task.used_by.clone(),
                        source: Box::new(e),
                    });
                }
            },
        };
        upload(
            source, sink, digest, task, &step.dst, session, opts, hook, progress,
        )
        .await
        .map_err(|e| Error::Image {
            image: task.used_by.clone(),
            source: Box::new(e),
        })?;
        counters.blobs_copied.fetch_add(1, Ordering::Relaxed);
        counters
            .bytes_copied
            .fetch_add(task.size, Ordering::Relaxed);
        progress.event(MirrorEvent::Blob {
            digest,
            size: task.size,
            action: BlobAction::Copied,
        });
    }
    Ok(())
}

/// Streams the blob from the source into `dst`: the source opened first, then the write; the
/// whole copy retried on transient failures (its requests are single attempts). The session
/// a declined mount opened serves the first attempt only.
#[allow(clippy::too_many_arguments)]
async fn upload<S: Source, K: Sink>(
    source: &S,
    sink: &K,
    digest: &Digest,
    task: &BlobTask,
    dst: &Repository,
    session: Option<K::Session>,
    opts: &CopyOptions,
    hook: &RetryHook,
    progress: &Arc<dyn Progress>,
) -> Result<(), Error> {
    let target = task.src.display_ref(digest.as_str());
    let session = std::sync::Mutex::new(session);
    retrying(&opts.retry, Some(hook), "copy blob", &target, || async {
        let first = session.lock().unwrap_or_else(|p| p.into_inner()).take();
        let blob = match source.open_blob(&task.src, digest).await {
            Ok(b) => b,
            Err(e) => {
                if let Some(s) = first {
                    sink.discard(dst, s).await;
                }
                return Err(e);
            }
        };
        if let Some(len) = blob.size
            && len != task.size
        {
            if let Some(s) = first {
                sink.discard(dst, s).await;
            }
            return Err(Error::Manifest {
                target: target.clone(),
                reason: format!(
                    "the source serves {len} bytes where the manifest says {}",
                    task.size
                ),
            });
        }
        let moved = Arc::new(AtomicU64::new(0));
        let (m2, p2) = (moved.clone(), progress.clone());
        let body =
            VerifyingStream::new(blob.stream, digest.clone(), task.size).on_chunk(move |len| {
                m2.fetch_add(len, Ordering::Relaxed);
                p2.event(MirrorEvent::Bytes(len));
            });
        let result = sink.put_blob(dst, digest, task.size, first, body).await;
        if result.is_err() {
            progress.event(MirrorEvent::Rewind(moved.load(Ordering::Relaxed)));
        }
        result.map_err(|e| match e {
            // The body's check names the source blob, not the upload.
            Error::DigestMismatch {
                expected,
                actual,
                tries,
                ..
            } => Error::DigestMismatch {
                target: target.clone(),
                expected,
                actual,
                tries,
            },
            e => e,
        })
    })
    .await
}

/// Writes an image's manifests: children of a list by digest first, then the image at its tag
/// (or by digest); a manifest already at the target is only tagged.
async fn finish_image<K: Sink>(
    sink: &K,
    job: &CopyJob,
    state: &JobState,
    progress: &dyn Progress,
) -> Result<(), Error> {
    let action = match state {
        JobState::Present => ImageAction::Present,
        JobState::Absent => ImageAction::Absent,
        JobState::Tag(digest) => {
            let tag = job.tag.as_deref().unwrap_or(digest.as_str());
            let m = sink
                .manifest(&job.dst, digest)
                .await?
                .ok_or_else(|| Error::Manifest {
                    target: job.dst.display_ref(digest.as_str()),
                    reason: "vanished from the target while mirroring".into(),
                })?;
            sink.put_manifest(&job.dst, tag, m.bytes, &m.media_type)
                .await?;
            ImageAction::Tagged
        }
        JobState::Copy(tree) => {
            for c in tree.children.iter().filter(|c| !c.present) {
                sink.put_manifest(&job.dst, c.digest.as_str(), c.bytes.clone(), &c.media_type)
                    .await?;
            }
            let reference = job.tag.as_deref().unwrap_or(tree.digest.as_str());
            let d = sink
                .put_manifest(&job.dst, reference, tree.bytes.clone(), &tree.media_type)
                .await?;
            if d != tree.digest {
                return Err(Error::DigestMismatch {
                    target: job.dst.display_ref(reference),
                    expected: tree.digest.to_string(),
                    actual: d.to_string(),
                    tries: 1,
                });
            }
            ImageAction::Copied
        }
    };
    progress.event(MirrorEvent::Image {
        name: &job.name,
        role: job.role,
        action,
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::Repository;

    fn task(size: u64, first_image: usize) -> BlobTask {
        BlobTask {
            size,
            src: Repository::parse("127.0.0.1:5000/src").unwrap(),
            steps: Vec::new(),
            jobs: vec![first_image, first_image + 10],
            used_by: String::new(),
        }
    }

    /// The big layers start first, largest first; the rest follow their images' order.
    #[test]
    fn big_blobs_start_first_then_image_order() {
        let sizes: [(u8, u64, usize); 6] = [
            (1, 10, 0),
            (2, 600, 5),
            (3, 20, 1),
            (4, 900, 3),
            (5, 30, 2),
            (6, 5, 0),
        ];
        let tasks: BTreeMap<Digest, BlobTask> = sizes
            .iter()
            .map(|&(b, size, image)| (Digest::of(&[b]), task(size, image)))
            .collect();
        let order = |slots| -> Vec<u64> {
            blob_order(&tasks, slots)
                .into_iter()
                .map(|(_, t)| t.size)
                .collect()
        };
        // 1565 bytes over 2 slots: a slot's eighth is 97 bytes, so 900 and 600 are big.
        let two = order(2);
        assert_eq!(two[..2], [900, 600]);
        let mut image0 = two[2..4].to_vec();
        image0.sort();
        assert_eq!(image0, [5, 10], "{two:?}");
        assert_eq!(two[4..], [20, 30]);
        // With many slots every blob is big: largest first.
        assert_eq!(order(100), [900, 600, 30, 20, 10, 5]);
    }
}
