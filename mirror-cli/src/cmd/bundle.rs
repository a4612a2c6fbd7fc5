//! Bundles (docs/bundles.md): `release mirror --to-dir` / `--from-dir`, `bundle verify`,
//! `bundle info`.

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, Subcommand};
use mirror_core::bundle::{
    PublishOptions, VerifyReport, WriteOptions, WriteReport, bundle_info, publish_bundle,
    verify_bundle, write_bundle,
};
use mirror_core::{
    Hint, ImageRef,
    release::{InstructionKind, MirrorRequest, SignatureOptions},
    upgrade::UpgradePlan,
};

use super::access;
use super::interrupted;
use super::mirror::{pick, render_text, signature_options, target_args, usage};
use crate::cli::{Access, Instructions, MirrorArgs, OutputFormat};
use crate::output::{
    EXIT_OK, EXIT_PROBLEM, EXIT_USAGE, core_error, hint_text, report_json, stdout,
};
use crate::progress::{CliProgress, retry_hook};

/// The bundle flags of `release mirror`.
#[derive(Args, Debug, Clone, Default)]
pub struct BundleFlags {
    /// Write the release into this directory, a bundle to carry to a disconnected site, instead of a registry (--to)
    #[arg(long, value_name = "DIR")]
    pub to_dir: Option<PathBuf>,
    /// Publish the bundle in this directory (written with --to-dir) into --to; the source is never contacted
    #[arg(long, value_name = "DIR", conflicts_with = "from")]
    pub from_dir: Option<PathBuf>,
    /// With --to-dir: write the bundle as numbered tar volumes of at most SIZE each (e.g. 4000MiB for FAT32)
    #[arg(long, value_name = "SIZE", requires = "to_dir")]
    pub archive_size: Option<String>,
    /// With --to-dir: leave out the blobs an earlier bundle (its directory or its mirrorctl-bundle.json) carried
    #[arg(long, value_name = "EARLIER_BUNDLE", requires = "to_dir")]
    pub since: Option<PathBuf>,
}

/// `mirrorctl bundle ...`.
#[derive(Subcommand, Debug)]
pub enum BundleCommand {
    /// Check every file of a bundle: volumes (size, sha256, checksum list), blobs (size, digest), the layout
    Verify(DirArgs),
    /// Show what a bundle holds: releases, images, blobs, bytes, volumes, what it builds on, how to publish it
    Info(DirArgs),
}

#[derive(Args, Debug)]
pub struct DirArgs {
    /// The bundle directory
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// Output format on stdout
    #[arg(long, value_enum, default_value = "text")]
    pub output: OutputFormat,
}

pub async fn run(cmd: BundleCommand) -> u8 {
    match cmd {
        BundleCommand::Verify(a) => verify(a).await,
        BundleCommand::Info(a) => info(a),
    }
}

/// `release mirror` with `--to-dir` or `--from-dir`.
pub async fn mirror(args: MirrorArgs, quiet: bool) -> u8 {
    // Checked here, not as clap conflicts: clap stops enforcing a `requires` on
    // `--to-dir` (`--archive-size`, `--since`) once an argument conflicting with it is given.
    if args.bundle.to_dir.is_some() {
        let other = [
            ("--to", args.to.is_some()),
            ("--from-dir", args.bundle.from_dir.is_some()),
            ("--to-release-image", args.to_release_image.is_some()),
            (
                "--release-image-signature-to-dir (the bundle keeps the signatures in DIR/signatures)",
                args.signatures.release_image_signature_to_dir.is_some(),
            ),
        ];
        if let Some((flag, _)) = other.iter().find(|(_, given)| *given) {
            eprintln!("error: --to-dir and {flag} cannot be used together");
            eprintln!(
                "hint: write the bundle with --to-dir on the connected side, then publish it with --from-dir DIR --to REPO on the other"
            );
            return EXIT_USAGE;
        }
    }
    if args.bundle.from_dir.is_some() && args.pick.channel.is_some() {
        eprintln!("error: --from-dir and --channel cannot be used together");
        eprintln!(
            "hint: the bundle holds the releases it was made with; pick channels with --to-dir on the connected side"
        );
        return EXIT_USAGE;
    }
    match args.bundle.to_dir.clone() {
        Some(dir) => to_dir(args, dir, quiet).await,
        None => from_dir(args, quiet).await,
    }
}

/// The commands for the disconnected side, with `dir` for the bundle; `config` for a bundle
/// written by `mirror --config` (published with `mirror --from-dir`, so additional images
/// land under the namespace as a registry-to-registry `mirror --config` puts them).
pub(crate) fn far_side_commands(dir: &str, config: bool) -> Vec<String> {
    let publish = if config {
        format!("mirrorctl mirror --from-dir {dir} --to REGISTRY[/NAMESPACE]")
    } else {
        format!("mirrorctl release mirror --from-dir {dir} --to REGISTRY/REPOSITORY")
    };
    vec![format!("mirrorctl bundle verify {dir}"), publish]
}

async fn to_dir(args: MirrorArgs, dir: PathBuf, quiet: bool) -> u8 {
    let mut froms = Vec::with_capacity(args.from.len());
    for f in &args.from {
        match ImageRef::parse(f) {
            Ok(r) => froms.push(r),
            Err(e) => return usage(e, "--from"),
        }
    }
    let archive_size = match args
        .bundle
        .archive_size
        .as_deref()
        .map(mirror_core::size::parse_size)
        .transpose()
    {
        Ok(s) => s,
        Err(e) => return usage(e, "--archive-size"),
    };
    let picked = match pick(&args.pick, None, froms, &args.access).await {
        Ok(r) => r,
        Err(code) => return code,
    };
    let signatures = match signature_options(&args.signatures, &args.access) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let job = ToDir {
        request: picked.request,
        upgrade: picked.plan,
        image_set: None,
        archive_size,
        since: args.bundle.since.clone(),
        dry_run: args.dry_run,
        max_per_registry: args.max_per_registry,
        signatures,
        output: args.output,
    };
    write_dir(job, dir, &args.access, quiet).await
}

/// What `--to-dir` writes (`release mirror` or `mirror --config`).
pub(crate) struct ToDir {
    pub request: MirrorRequest,
    pub upgrade: Option<UpgradePlan>,
    pub image_set: Option<PathBuf>,
    pub archive_size: Option<u64>,
    pub since: Option<PathBuf>,
    pub dry_run: bool,
    pub max_per_registry: usize,
    pub signatures: SignatureOptions,
    pub output: OutputFormat,
}

/// Writes the bundle `job` describes into `dir` and prints the outcome.
pub(crate) async fn write_dir(job: ToDir, dir: PathBuf, access_flags: &Access, quiet: bool) -> u8 {
    let progress = Arc::new(CliProgress::new(quiet));
    let client = match access::client(access_flags, Some(retry_hook(progress.clone()))) {
        Ok(c) => c,
        Err(e) => return core_error(&e),
    };
    let config = job.image_set.is_some();
    let opts = WriteOptions {
        archive_size: job.archive_size,
        since: job.since,
        dry_run: job.dry_run,
        max_per_registry: job.max_per_registry,
        retry: access::retry_policy(access_flags),
        instructions: far_side_commands("DIR", config),
        signatures: job.signatures,
        upgrade: job.upgrade,
        image_set: job.image_set,
        ..WriteOptions::new(dir.clone())
    };
    let result = tokio::select! {
        r = write_bundle(&client, &job.request, &opts, progress.clone()) => r,
        _ = interrupted() => Err(mirror_core::Error::Cancelled {
            what: "the bundle was interrupted and has no metadata file yet. Run the same command again: only what is missing is written".into(),
        }),
    };
    progress.finish();
    let report = match result {
        Ok(r) => r,
        Err(e) => return core_error(&e),
    };
    match job.output {
        OutputFormat::Json => stdout(&report_json(&report)),
        OutputFormat::Text => stdout(&render_written(&report, config)),
    }
    if report.dry_run && report.bytes_needed > report.bytes_free {
        eprintln!(
            "error: bundle `{}`: not enough free space: {} needed, {} free",
            dir.display(),
            mirror_core::size::format_size(report.bytes_needed),
            mirror_core::size::format_size(report.bytes_free)
        );
        if let Some(h) = hint_text(Some(Hint::BundleNoSpace {
            needed: report.bytes_needed,
            free: report.bytes_free,
        })) {
            eprintln!("hint: {h}");
        }
        return EXIT_PROBLEM;
    }
    EXIT_OK
}

/// The text of a bundle write: what is in it, and what to do on the other side.
pub fn render_written(r: &WriteReport, config: bool) -> String {
    let dir = r.dir.display().to_string();
    let mut out = String::new();
    if r.dry_run {
        let p = &r.plan;
        out.push_str("Plan (dry run: nothing was written)\n");
        out.push_str(&format!(
            "  images:       {} ({} already in the bundle, {} to write)\n",
            p.images,
            p.images_present + p.images_to_tag,
            p.images_to_copy
        ));
        out.push_str(&format!(
            "  unique blobs: {} ({}) in the images to write\n",
            p.unique_blobs,
            mirror_core::size::format_size(p.unique_bytes)
        ));
        out.push_str(&format!(
            "  to write:     {} blobs ({}) into {dir}\n",
            p.blobs_to_copy,
            mirror_core::size::format_size(p.bytes_to_copy)
        ));
        out.push_str(&format!(
            "  free space:   {} ({} needed{})\n\n",
            mirror_core::size::format_size(r.bytes_free),
            mirror_core::size::format_size(r.bytes_needed),
            if r.bytes_needed > r.bytes_free {
                ": does not fit"
            } else {
                ""
            }
        ));
        return out;
    }
    out.push_str("Success\n");
    out.push_str(&format!("Bundle:        {dir}\n"));
    if let Some(id) = &r.bundle_id {
        out.push_str(&format!("Bundle id:     {id}\n"));
    }
    for rel in &r.releases {
        out.push_str(&format!(
            "Release:       {} {} {} ({})\n",
            rel.version, rel.architecture, rel.release, rel.digest
        ));
    }
    out.push_str(&format!("Images:        {}\n", r.images));
    out.push_str(&format!(
        "Blobs:         {} written ({}), {} already there ({})\n",
        r.blobs_written,
        mirror_core::size::format_size(r.bytes_written),
        r.blobs_skipped.saturating_sub(r.blobs_in_base),
        mirror_core::size::format_size(r.bytes_skipped.saturating_sub(r.bytes_in_base))
    ));
    if let Some(s) = &r.since {
        out.push_str(&format!(
            "Builds on:     bundle {} ({}): {} blobs ({}) left to it\n",
            s.bundle_id,
            s.created_at,
            r.blobs_in_base,
            mirror_core::size::format_size(r.bytes_in_base)
        ));
    }
    if !r.volumes.is_empty() {
        let largest = r.volumes.iter().map(|v| v.size).max().unwrap_or(0);
        out.push_str(&format!(
            "Volumes:       {} (largest {}), listed in mirrorctl-bundle.sha256\n",
            r.volumes.len(),
            mirror_core::size::format_size(largest)
        ));
    }
    out.push_str(&format!(
        "\nCarry {dir} to the disconnected side, then run there:\n\n"
    ));
    for c in far_side_commands(&dir, config) {
        out.push_str(&format!("    {c}\n"));
    }
    out.push_str(
        "\nThe second prints the mirror instructions (ImageDigestMirrorSet or ImageContentSourcePolicy) for these sources:\n",
    );
    for s in &r.mirror_sources {
        out.push_str(&format!("    {s}\n"));
    }
    out
}

async fn from_dir(args: MirrorArgs, quiet: bool) -> u8 {
    let dir = args.bundle.from_dir.clone().unwrap_or_default();
    let (to, to_release_image, signatures) = match target_args(&args) {
        Ok(t) => t,
        Err(code) => return code,
    };
    let opts = PublishOptions {
        signatures,
        to_release_image,
        dry_run: args.dry_run,
        max_per_registry: args.max_per_registry,
        retry: access::retry_policy(&args.access),
        ..PublishOptions::new(dir, to)
    };
    publish_dir(
        opts,
        &args.access,
        args.print_mirror_instructions,
        args.output,
        quiet,
    )
    .await
}

/// Publishes the bundle `opts` names and prints what `release mirror` prints.
pub(crate) async fn publish_dir(
    opts: PublishOptions,
    access_flags: &Access,
    instructions: Option<Instructions>,
    output: OutputFormat,
    quiet: bool,
) -> u8 {
    let progress = Arc::new(CliProgress::new(quiet));
    let client = match access::client(access_flags, Some(retry_hook(progress.clone()))) {
        Ok(c) => c,
        Err(e) => return core_error(&e),
    };
    if !quiet {
        eprintln!("info: checking the files of bundle {}", opts.dir.display());
    }
    let result = tokio::select! {
        r = publish_bundle(&client, &opts, progress.clone()) => r,
        _ = interrupted() => Err(mirror_core::Error::Cancelled {
            what: "publishing was interrupted; the release tag was not written. Run the same command again: only what is missing is copied".into(),
        }),
    };
    progress.finish();
    let report = match result {
        Ok(r) => r,
        Err(e) => return core_error(&e),
    };
    let kind = match instructions {
        Some(Instructions::Icsp) => InstructionKind::Icsp,
        Some(Instructions::Idms) => InstructionKind::Idms,
        Some(Instructions::Both) => InstructionKind::Both,
        Some(Instructions::None) => InstructionKind::None,
        None => report.default_instructions,
    };
    match output {
        OutputFormat::Json => stdout(&report_json(&report)),
        OutputFormat::Text => stdout(&render_text(&report, kind)),
    }
    EXIT_OK
}

async fn verify(a: DirArgs) -> u8 {
    let dir = a.dir.clone();
    let result = tokio::task::spawn_blocking(move || verify_bundle(&dir)).await;
    let report = match result {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => return core_error(&e),
        Err(e) => {
            eprintln!("error: checking `{}`: {e}", a.dir.display());
            return EXIT_USAGE;
        }
    };
    for w in &report.warnings {
        eprintln!("warning: {w}");
    }
    match a.output {
        OutputFormat::Json => stdout(&report_json(&report)),
        OutputFormat::Text => stdout(&render_verify(&report)),
    }
    if report.ok() {
        return EXIT_OK;
    }
    eprintln!(
        "error: bundle `{}` has {} problem{}",
        a.dir.display(),
        report.problems.len(),
        if report.problems.len() == 1 { "" } else { "s" }
    );
    if let Some(h) = hint_text(Some(Hint::BundleDamaged)) {
        eprintln!("hint: {h}");
    }
    EXIT_PROBLEM
}

fn render_verify(r: &VerifyReport) -> String {
    let mut out = format!(
        "Bundle {} ({}): {}\n  volumes checked: {}, blobs checked: {}, bytes read: {}\n",
        r.dir.display(),
        r.bundle_id,
        if r.ok() { "OK" } else { "DAMAGED" },
        r.volumes_checked,
        r.blobs_checked,
        mirror_core::size::format_size(r.bytes_checked)
    );
    for p in &r.problems {
        out.push_str(&format!("  {}: {}\n", p.path.display(), p.reason));
    }
    out
}

fn info(a: DirArgs) -> u8 {
    let info = match bundle_info(&a.dir) {
        Ok(i) => i,
        Err(e) => return core_error(&e),
    };
    match a.output {
        OutputFormat::Json => stdout(&report_json(&info)),
        OutputFormat::Text => stdout(&super::bundle_info::render_info(&info)),
    }
    EXIT_OK
}
