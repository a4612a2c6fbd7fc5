//! Mirror progress on stderr: an indicatif bar on a terminal (percent, bytes, rate, ETA,
//! images done), plain `info:` lines every few seconds otherwise (logs, CI, pipes).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use mirror_core::progress::{ImageAction, MirrorEvent, Progress};

use mirror_core::size::format_size;

use crate::output::stderr_is_tty;

/// The bar's layout. `{msg}` carries the image count; `{bytes}`, `{total}` and `{rate}` are
/// written by [`format_size`], as every size mirrorctl prints.
pub(crate) const BAR_TEMPLATE: &str =
    "{wide_bar} {percent:>3}%  {bytes}/{total}  {rate}/s  ETA {eta}  images {msg}";

/// The bar's style: [`BAR_TEMPLATE`] with its size keys.
fn bar_style() -> Result<ProgressStyle, indicatif::style::TemplateError> {
    use indicatif::ProgressState;
    Ok(ProgressStyle::with_template(BAR_TEMPLATE)?
        .with_key("bytes", |s: &ProgressState, w: &mut dyn std::fmt::Write| {
            let _ = w.write_str(&format_size(s.pos()));
        })
        .with_key("total", |s: &ProgressState, w: &mut dyn std::fmt::Write| {
            let _ = w.write_str(&format_size(s.len().unwrap_or(0)));
        })
        .with_key("rate", |s: &ProgressState, w: &mut dyn std::fmt::Write| {
            let _ = w.write_str(&format_size(s.per_sec() as u64));
        })
        .progress_chars("=> "))
}

/// Plain lines: how often the periodic `info: images ...` line is printed.
const PLAIN_EVERY: Duration = Duration::from_secs(5);

/// Receives the engine's [`MirrorEvent`]s and draws them on stderr.
pub(crate) struct CliProgress {
    quiet: bool,
    tty: bool,
    start: Instant,
    bytes: AtomicU64,
    total_bytes: AtomicU64,
    images: AtomicUsize,
    total_images: AtomicUsize,
    last_line: Mutex<Instant>,
    /// Made at the first transfer, so a dry run draws no bar.
    bar: OnceLock<ProgressBar>,
}

impl CliProgress {
    /// Progress that draws a bar when stderr is a terminal, plain lines otherwise, and nothing
    /// with `quiet`.
    pub(crate) fn new(quiet: bool) -> Self {
        Self::with_tty(quiet, stderr_is_tty())
    }

    fn with_tty(quiet: bool, tty: bool) -> Self {
        Self {
            quiet,
            tty,
            start: Instant::now(),
            bytes: AtomicU64::new(0),
            total_bytes: AtomicU64::new(0),
            images: AtomicUsize::new(0),
            total_images: AtomicUsize::new(0),
            last_line: Mutex::new(Instant::now()),
            bar: OnceLock::new(),
        }
    }

    fn images_text(&self) -> String {
        format!(
            "{}/{}",
            self.images.load(Ordering::Relaxed),
            self.total_images.load(Ordering::Relaxed)
        )
    }

    /// The periodic line printed when stderr is not a terminal.
    fn plain_line(&self) -> String {
        let b = self.bytes.load(Ordering::Relaxed);
        let secs = self.start.elapsed().as_secs_f64().max(0.001);
        format!(
            "images {}  {} / {}  {}/s",
            self.images_text(),
            format_size(b),
            format_size(self.total_bytes.load(Ordering::Relaxed)),
            format_size((b as f64 / secs) as u64)
        )
    }

    fn bar(&self) -> &ProgressBar {
        self.bar.get_or_init(|| {
            let bar = ProgressBar::with_draw_target(
                Some(self.total_bytes.load(Ordering::Relaxed)),
                ProgressDrawTarget::stderr(),
            );
            if let Ok(style) = bar_style() {
                bar.set_style(style);
            }
            bar.set_position(self.bytes.load(Ordering::Relaxed));
            bar.set_message(self.images_text());
            bar
        })
    }

    /// Redraws: the bar on a terminal, else a plain line when `PLAIN_EVERY` has passed (or
    /// `force`).
    fn draw(&self, force: bool) {
        if self.tty {
            let bar = self.bar();
            let total = self.total_bytes.load(Ordering::Relaxed);
            // Retried transfers resend bytes: never past 100%.
            bar.set_position(self.bytes.load(Ordering::Relaxed).min(total));
            bar.set_message(self.images_text());
            return;
        }
        let mut last = self.last_line.lock().unwrap_or_else(|p| p.into_inner());
        if force || last.elapsed() >= PLAIN_EVERY {
            *last = Instant::now();
            eprintln!("info: {}", self.plain_line());
        }
    }

    /// Prints a line above the bar (or plainly).
    fn say(&self, line: &str) {
        match self.bar.get() {
            Some(bar) => bar.suspend(|| eprintln!("{line}")),
            None => eprintln!("{line}"),
        }
    }

    /// Ends the progress: the bar stays drawn in its final state; without a terminal a last
    /// plain line gives the totals.
    pub(crate) fn finish(&self) {
        if self.quiet {
            return;
        }
        match self.bar.get() {
            Some(bar) => {
                bar.set_message(self.images_text());
                bar.finish();
                // The bar stays; what follows goes below it.
                eprintln!();
            }
            None if !self.tty && self.images.load(Ordering::Relaxed) > 0 => {
                self.draw(true);
            }
            None => {}
        }
    }
}

impl Progress for CliProgress {
    fn event(&self, e: MirrorEvent<'_>) {
        if self.quiet {
            return;
        }
        match e {
            MirrorEvent::ReleaseRead {
                version,
                digest,
                images,
            } => {
                self.total_images.fetch_add(images, Ordering::Relaxed);
                self.say(&format!(
                    "info: Mirroring {images} images of release {version} ({digest})"
                ));
            }
            MirrorEvent::Planned(p) => {
                self.total_bytes.store(p.bytes_to_upload, Ordering::Relaxed);
                self.total_images.store(p.images, Ordering::Relaxed);
                self.images.fetch_add(p.images_present, Ordering::Relaxed);
                self.say(&format!(
                    "info: Plan: {} images ({} present, {} to tag, {} to copy); {} of {} unique blobs to copy ({}): {} to upload ({}), {} to mount ({})",
                    p.images,
                    p.images_present,
                    p.images_to_tag,
                    p.images_to_copy,
                    p.blobs_to_copy,
                    p.unique_blobs,
                    format_size(p.bytes_to_copy),
                    p.blobs_to_upload,
                    format_size(p.bytes_to_upload),
                    p.blobs_to_mount,
                    format_size(p.bytes_to_mount)
                ));
            }
            MirrorEvent::Bytes(n) => {
                self.bytes.fetch_add(n, Ordering::Relaxed);
                self.draw(false);
            }
            MirrorEvent::Rewind(n) => {
                let _ = self
                    .bytes
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| {
                        Some(b.saturating_sub(n))
                    });
                self.draw(false);
            }
            MirrorEvent::Image {
                role: mirror_core::copy::Role::Signature,
                ..
            } => {}
            MirrorEvent::Image { name, action, .. } => {
                if !matches!(action, ImageAction::Present | ImageAction::Absent) {
                    self.images.fetch_add(1, Ordering::Relaxed);
                }
                if !self.tty {
                    eprintln!("info: {name}: {}", action_word(action));
                }
                self.draw(false);
            }
            MirrorEvent::Signatures(r) => {
                self.say(&crate::cmd::signatures::progress_line(r));
            }
            MirrorEvent::Retrying {
                what,
                attempt,
                delay,
                reason,
            } => self.say(&format!(
                "warning: {what}: attempt {attempt} failed ({reason}); retrying in {:.1}s",
                delay.as_secs_f64()
            )),
            MirrorEvent::Warning(w) => self.say(&format!("warning: {w}")),
            _ => {}
        }
    }
}

fn action_word(a: ImageAction) -> &'static str {
    match a {
        ImageAction::Present => "present",
        ImageAction::Tagged => "tagged",
        ImageAction::Copied => "copied",
        ImageAction::Absent => "not at the source (optional)",
        _ => "done",
    }
}

/// Retries of single requests (made by the registry client), printed as warning lines like
/// the engine's: above the bar on a terminal, plainly otherwise; nothing with `--quiet`.
pub(crate) fn retry_hook(
    progress: std::sync::Arc<CliProgress>,
) -> mirror_core::registry::RetryHook {
    mirror_core::registry::RetryHook::new(move |n| {
        let what = format!("{} `{}`", n.op, n.target);
        progress.event(MirrorEvent::Retrying {
            what: &what,
            attempt: n.attempt,
            delay: n.delay,
            reason: n.reason.clone(),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bar_template_parses() {
        assert!(bar_style().is_ok());
    }

    #[test]
    fn plain_line_counts_images_and_bytes() {
        let p = CliProgress::with_tty(false, false);
        p.total_images.store(13, Ordering::Relaxed);
        p.total_bytes.store(3 << 20, Ordering::Relaxed);
        p.images.store(4, Ordering::Relaxed);
        p.bytes.store(1 << 20, Ordering::Relaxed);
        let line = p.plain_line();
        assert!(line.starts_with("images 4/13  1MiB / 3MiB  "), "{line}");
    }
}
