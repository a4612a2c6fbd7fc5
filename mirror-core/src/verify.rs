//! A stream that checks what passes through it: counts and hashes the bytes, and fails on a
//! wrong length or digest before the last byte reaches its reader, so a corrupt blob is never
//! completed anywhere.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::Stream;

use crate::digest::{Digest, DigestHasher};
use crate::error::Error;

/// Why a [`VerifyingStream`] failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected `{expected}`: {problem}")]
pub struct VerifyError {
    /// The digest the bytes should hash to.
    pub expected: Digest,
    /// What was wrong.
    pub problem: Mismatch,
}

/// What was wrong with a stream's bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Mismatch {
    /// More bytes than declared.
    #[error("more than the {size} bytes declared")]
    TooLong {
        /// The declared size.
        size: u64,
    },
    /// The stream ended early.
    #[error("{got} of the {size} bytes declared")]
    TooShort {
        /// The declared size.
        size: u64,
        /// What arrived.
        got: u64,
    },
    /// The bytes hash to another digest.
    #[error("the bytes hash to `{actual}`")]
    Digest {
        /// What they hash to.
        actual: Digest,
    },
}

impl VerifyError {
    /// Finds a `VerifyError` in an error's `source()` chain (and inside `io::Error`s, which
    /// hide their payload from `source()`).
    pub fn find<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a VerifyError> {
        let mut next: Option<&'a (dyn std::error::Error + 'static)> = Some(e);
        while let Some(err) = next {
            if let Some(v) = err.downcast_ref::<VerifyError>() {
                return Some(v);
            }
            if let Some(inner) = err
                .downcast_ref::<std::io::Error>()
                .and_then(|io| io.get_ref())
                && let Some(v) = Self::find(inner)
            {
                return Some(v);
            }
            next = err.source();
        }
        None
    }

    /// As the crate's error (a digest mismatch, worth another attempt) for `target`.
    pub fn into_error(self, target: String) -> Error {
        let actual = match self.problem {
            Mismatch::Digest { actual } => actual.to_string(),
            other => other.to_string(),
        };
        Error::DigestMismatch {
            target,
            expected: self.expected.to_string(),
            actual,
            tries: 1,
        }
    }
}

/// Wraps a stream of chunks; yields them unchanged while their count and hash can still be
/// right, and an error instead of the chunk that makes them wrong. `on_chunk` is told the
/// size of every chunk that passes.
pub struct VerifyingStream<S> {
    inner: S,
    expected: Digest,
    size: u64,
    seen: u64,
    hasher: Option<DigestHasher>,
    on_chunk: Box<dyn FnMut(u64) + Send>,
}

impl<S> std::fmt::Debug for VerifyingStream<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyingStream")
            .field("expected", &self.expected)
            .field("size", &self.size)
            .field("seen", &self.seen)
            .finish_non_exhaustive()
    }
}

impl<S> VerifyingStream<S> {
    /// Checks that `inner` yields exactly `size` bytes hashing to `expected`.
    pub fn new(inner: S, expected: Digest, size: u64) -> Self {
        Self {
            inner,
            expected,
            size,
            seen: 0,
            hasher: Some(DigestHasher::new()),
            on_chunk: Box::new(|_| {}),
        }
    }

    /// Calls `f` with the length of every chunk that passes.
    pub fn on_chunk(mut self, f: impl FnMut(u64) + Send + 'static) -> Self {
        self.on_chunk = Box::new(f);
        self
    }

    /// Bytes passed so far.
    pub fn seen(&self) -> u64 {
        self.seen
    }

    fn fail(&self, problem: Mismatch) -> std::io::Error {
        std::io::Error::other(VerifyError {
            expected: self.expected.clone(),
            problem,
        })
    }

    fn check(&mut self, chunk: &[u8]) -> Result<(), Mismatch> {
        if chunk.is_empty() {
            // HTTP/2 may end a body with an empty DATA frame, after the last byte.
            return Ok(());
        }
        let Some(h) = self.hasher.as_mut() else {
            return Err(Mismatch::TooLong { size: self.size });
        };
        self.seen += chunk.len() as u64;
        if self.seen > self.size {
            self.hasher = None;
            return Err(Mismatch::TooLong { size: self.size });
        }
        h.update(chunk);
        if self.seen == self.size {
            let actual = self.hasher.take().map(DigestHasher::finish);
            if actual.as_ref() != Some(&self.expected) {
                return Err(Mismatch::Digest {
                    actual: actual.unwrap_or_else(|| Digest::of(b"")),
                });
            }
        }
        Ok(())
    }
}

impl<S, E> Stream for VerifyingStream<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_next(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(std::io::Error::other(e)))),
            Poll::Ready(Some(Ok(chunk))) => match this.check(&chunk) {
                Ok(()) => {
                    if !chunk.is_empty() {
                        (this.on_chunk)(chunk.len() as u64);
                    }
                    Poll::Ready(Some(Ok(chunk)))
                }
                Err(m) => Poll::Ready(Some(Err(this.fail(m)))),
            },
            Poll::Ready(None) => {
                if this.hasher.is_some() {
                    if this.size == 0 {
                        // Nothing was expected; the empty blob has a known digest.
                        let empty = Digest::of(b"");
                        this.hasher = None;
                        if empty != this.expected {
                            return Poll::Ready(Some(Err(
                                this.fail(Mismatch::Digest { actual: empty })
                            )));
                        }
                        return Poll::Ready(None);
                    }
                    let got = this.seen;
                    this.hasher = None;
                    return Poll::Ready(Some(Err(this.fail(Mismatch::TooShort {
                        size: this.size,
                        got,
                    }))));
                }
                Poll::Ready(None)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt as _;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    async fn run(chunks: &[&[u8]], expected: &Digest, size: u64) -> (Vec<u8>, Option<Mismatch>) {
        let items: Vec<Result<Bytes, std::io::Error>> = chunks
            .iter()
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        let mut s = VerifyingStream::new(futures_util::stream::iter(items), expected.clone(), size);
        let mut out = Vec::new();
        while let Some(item) = s.next().await {
            match item {
                Ok(b) => out.extend_from_slice(&b),
                Err(e) => return (out, VerifyError::find(&e).map(|v| v.problem.clone())),
            }
        }
        (out, None)
    }

    #[tokio::test]
    async fn passes_good_bytes_and_stops_bad_ones_before_their_end() {
        let good = Digest::of(b"hello world");
        type Row<'a> = (Vec<&'a [u8]>, u64, &'a [u8], Option<Mismatch>);
        let table: Vec<Row> = vec![
            (vec![b"hello ", b"world"], 11, b"hello world", None),
            // An empty chunk after the end (HTTP/2) is fine.
            (vec![b"hello world", b""], 11, b"hello world", None),
            // The last chunk of wrong bytes is withheld.
            (
                vec![b"hello ", b"wurld"],
                11,
                b"hello ",
                Some(Mismatch::Digest {
                    actual: Digest::of(b"hello wurld"),
                }),
            ),
            (
                vec![b"hello ", b"world!"],
                11,
                b"hello ",
                Some(Mismatch::TooLong { size: 11 }),
            ),
            (
                vec![b"hello "],
                11,
                b"hello ",
                Some(Mismatch::TooShort { size: 11, got: 6 }),
            ),
        ];
        for (chunks, size, passed, err) in table {
            let (out, e) = run(&chunks, &good, size).await;
            assert_eq!((out.as_slice(), e.clone()), (passed, err), "{chunks:?}");
        }
        let empty = Digest::of(b"");
        assert_eq!(run(&[], &empty, 0).await, (vec![], None));
        assert_eq!(
            run(&[], &good, 0).await.1,
            Some(Mismatch::Digest { actual: empty })
        );
    }

    #[tokio::test]
    async fn counts_what_passes() {
        let seen = Arc::new(AtomicU64::new(0));
        let s2 = seen.clone();
        let items = vec![
            Ok::<_, std::io::Error>(Bytes::from_static(b"abc")),
            Ok(Bytes::from_static(b"de")),
        ];
        let s = VerifyingStream::new(futures_util::stream::iter(items), Digest::of(b"abcde"), 5)
            .on_chunk(move |n| {
                s2.fetch_add(n, Ordering::Relaxed);
            });
        let all: Vec<_> = s.collect().await;
        assert!(all.iter().all(Result::is_ok));
        assert_eq!(seen.load(Ordering::Relaxed), 5);
    }

    #[test]
    fn found_through_wrappers_and_turned_into_a_digest_mismatch() {
        let d = Digest::of(b"x");
        let v = VerifyError {
            expected: d.clone(),
            problem: Mismatch::TooLong { size: 3 },
        };
        let outer = std::io::Error::other(std::io::Error::other(v.clone()));
        assert_eq!(VerifyError::find(&outer), Some(&v));
        let e = v.into_error("r/a@x".into());
        assert_eq!(
            e.to_string(),
            format!(
                "digest mismatch for `r/a@x`: expected `{d}`, got `more than the 3 bytes declared`"
            )
        );
        assert!(e.is_transient());
    }
}
