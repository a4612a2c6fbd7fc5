//! `mirrorctl release mirror` and `mirrorctl release info`.

use std::sync::Arc;
use std::time::Instant;

use mirror_core::{ImageRef, InstructionKind, MirrorOptions, MirrorReport, Repository};

use super::access;
use crate::cli::{ExtractArgs, InfoArgs, Instructions, MirrorArgs, OutputFormat};
use crate::output::{EXIT_OK, EXIT_USAGE, core_error, human_bytes, json_report, stdout};
use crate::progress::{CliProgress, retry_hook};

pub async fn mirror(args: MirrorArgs, quiet: bool) -> u8 {
    if args.bundle.to_dir.is_some() || args.bundle.from_dir.is_some() {
        return super::bundle::mirror(args, quiet).await;
    }
    let from = match ImageRef::parse(args.from.as_deref().unwrap_or_default()) {
        Ok(r) => r,
        Err(e) => return usage(&e, "--from"),
    };
    let to = match Repository::parse(args.to.as_deref().unwrap_or_default()) {
        Ok(r) => r,
        Err(e) => return usage(&e, "--to"),
    };
    let to_release_image = match args
        .to_release_image
        .as_deref()
        .map(ImageRef::parse)
        .transpose()
    {
        Ok(r) => r,
        Err(e) => return usage(&e, "--to-release-image"),
    };
    let progress = Arc::new(CliProgress::new(quiet));
    let client = match access::client(&args.access, Some(retry_hook(progress.clone()))) {
        Ok(c) => c,
        Err(e) => return core_error(&e),
    };
    let opts = MirrorOptions {
        to_release_image,
        dry_run: args.dry_run,
        max_per_registry: args.max_per_registry,
        retry: access::retry_policy(&args.access),
        ..MirrorOptions::new(to)
    };
    let started = Instant::now();
    let result = tokio::select! {
        r = mirror_core::mirror_release(&client, &from, &opts, progress.clone()) => r,
        _ = interrupted() => Err(mirror_core::Error::Cancelled {
            what: "the mirror was interrupted; the release tag was not written. Run the same command again: only what is missing is copied".into(),
        }),
    };
    progress.finish();
    let report = match result {
        Ok(r) => r,
        Err(e) => return core_error(&e),
    };
    if !quiet {
        let secs = started.elapsed().as_secs_f64();
        let rate = report.bytes_copied as f64 / secs.max(0.001) / 1e6;
        if report.dry_run {
            eprintln!("info: Dry run complete");
        } else {
            eprintln!("info: Mirroring completed in {secs:.2}s ({rate:.2}MB/s)");
        }
    }
    let kind = match args.print_mirror_instructions {
        Some(Instructions::Icsp) => InstructionKind::Icsp,
        Some(Instructions::Idms) => InstructionKind::Idms,
        Some(Instructions::Both) => InstructionKind::Both,
        Some(Instructions::None) => InstructionKind::None,
        None => report.default_instructions,
    };
    let out = match args.output {
        OutputFormat::Json => serde_json::to_string_pretty(&report)
            .map(|s| s + "\n")
            .unwrap_or_default(),
        OutputFormat::Text => render_text(&report, kind),
    };
    stdout(&out);
    EXIT_OK
}

pub(crate) fn usage(e: &mirror_core::Error, flag: &str) -> u8 {
    eprintln!("error: {flag}: {e}");
    if let Some(h) = crate::output::hint_text(e.hint()) {
        eprintln!("hint: {h}");
    }
    EXIT_USAGE
}

pub(crate) async fn interrupted() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => return std::future::pending().await,
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// The text `oc adm release mirror` prints on stdout, plus the plan for a dry run.
pub fn render_text(r: &MirrorReport, kind: InstructionKind) -> String {
    let mut out = String::new();
    if r.dry_run {
        let p = &r.plan;
        out.push_str("Plan (dry run: nothing was written)\n");
        out.push_str(&format!(
            "  images:       {} ({} present, {} to tag, {} to copy)\n",
            p.images, p.images_present, p.images_to_tag, p.images_to_copy
        ));
        out.push_str(&format!(
            "  unique blobs: {} ({}) in the images to copy\n",
            p.unique_blobs,
            human_bytes(p.unique_bytes)
        ));
        out.push_str(&format!(
            "  to transfer:  {} blobs ({}) after subtracting what the target holds\n",
            p.blobs_to_copy,
            human_bytes(p.bytes_to_copy)
        ));
        out.push_str(&format!(
            "  to mount:     {} ({}) from other repositories of the target registry{}\n",
            p.blobs_to_mount,
            human_bytes(p.bytes_to_mount),
            if p.mount_sources.is_empty() {
                String::new()
            } else {
                format!(" (earlier mirror: {})", p.mount_sources.join(", "))
            }
        ));
        out.push_str(&format!(
            "  to upload:    {} ({}) from the source\n\n",
            p.blobs_to_upload,
            human_bytes(p.bytes_to_upload)
        ));
    }
    out.push_str("Success\n");
    out.push_str(&format!("Update image:  {}\n", r.update_image));
    for p in &r.mirror_prefixes {
        out.push_str(&format!("Mirror prefix: {p}\n"));
    }
    out.push_str(&r.instructions.render(kind));
    out
}

pub async fn info(args: InfoArgs, quiet: bool) -> u8 {
    let image = match ImageRef::parse(&args.image) {
        Ok(r) => r,
        Err(e) => return usage(&e, "REF"),
    };
    let client = match access::client(
        &args.access,
        Some(retry_hook(Arc::new(CliProgress::new(quiet)))),
    ) {
        Ok(c) => c,
        Err(e) => return core_error(&e),
    };
    let info =
        match mirror_core::release_info(&client, &image, mirror_core::DEFAULT_MAX_PER_REGISTRY)
            .await
        {
            Ok(i) => i,
            Err(e) => return core_error(&e),
        };
    let out = match args.output {
        OutputFormat::Json => serde_json::to_string_pretty(&info)
            .map(|s| s + "\n")
            .unwrap_or_default(),
        OutputFormat::Text => {
            let mut s = format!(
                "Name:          {}\nDigest:        {}\nArchitecture:  {}\nMedia type:    {}\nComponents:    {}\nUnique blobs:  {}\nSize:          {} (deduplicated)\n",
                info.version,
                info.digest,
                info.architecture,
                info.media_type,
                info.components.len(),
                info.unique_blobs,
                human_bytes(info.unique_bytes)
            );
            if let Some(url) = &info.metadata_url {
                s.push_str(&format!("Metadata URL:  {url}\n"));
            }
            s.push_str("\nImages:\n");
            let w = info
                .components
                .iter()
                .map(|c| c.name.len())
                .max()
                .unwrap_or(4);
            for c in &info.components {
                s.push_str(&format!("  {:w$}  {}\n", c.name, c.image));
            }
            s
        }
    };
    stdout(&out);
    EXIT_OK
}

pub async fn extract(args: ExtractArgs, quiet: bool) -> u8 {
    if args.command != "openshift-install" {
        eprintln!(
            "error: command `{}` does not exist in this release's targets",
            args.command
        );
        eprintln!("hint: only `--command openshift-install` is supported");
        return EXIT_USAGE;
    }
    let from = match ImageRef::parse(&args.from) {
        Ok(r) => r,
        Err(e) => return usage(&e, "--from"),
    };
    let client = match access::client(
        &args.access,
        Some(retry_hook(Arc::new(CliProgress::new(quiet)))),
    ) {
        Ok(c) => c,
        Err(e) => return core_error(&e),
    };
    let report = match mirror_core::extract_installer(&client, &from, &args.to).await {
        Ok(r) => r,
        Err(e) => return core_error(&e),
    };
    if !report.missing_markers.is_empty() {
        // oc's wording (two spaces after the period).
        eprintln!(
            "warning: Unable to make all expected replacements in openshift-install.  Remaining: {}",
            report.missing_markers.join(", ")
        );
    }
    match args.output {
        OutputFormat::Json => stdout(&json_report(
            "ReleaseExtractReport",
            serde_json::to_value(&report).unwrap_or_default(),
        )),
        OutputFormat::Text => stdout(&format!(
            "{}\n  pinned to {} (version {}, {})\n",
            report.path.display(),
            report.release_image,
            report.version,
            report.architecture
        )),
    }
    EXIT_OK
}
