//! `mirrorctl release mirror` and `mirrorctl release info`.

use std::sync::Arc;

use mirror_core::{ImageRef, size::format_size};

use super::access;
use super::mirror::usage;
use crate::cli::{ExtractArgs, InfoArgs, OutputFormat};
use crate::output::{EXIT_OK, EXIT_USAGE, core_error, json_report, report_json, stdout};
use crate::progress::{CliProgress, retry_hook};

pub async fn info(args: InfoArgs, quiet: bool) -> u8 {
    let image = match ImageRef::parse(&args.image) {
        Ok(r) => r,
        Err(e) => return usage(e, "REF"),
    };
    let client = match access::client(
        &args.access,
        Some(retry_hook(Arc::new(CliProgress::new(quiet)))),
    ) {
        Ok(c) => c,
        Err(e) => return core_error(&e),
    };
    let info = match mirror_core::release_info(
        &client,
        &image,
        mirror_core::copy::DEFAULT_MAX_PER_REGISTRY,
    )
    .await
    {
        Ok(i) => i,
        Err(e) => return core_error(&e),
    };
    let out = match args.output {
        OutputFormat::Json => report_json(&info),
        OutputFormat::Text => {
            let mut s = format!(
                "Name:          {}\nDigest:        {}\nArchitecture:  {}\nMedia type:    {}\nComponents:    {}\nUnique blobs:  {}\nSize:          {} (deduplicated)\n",
                info.version,
                info.digest,
                info.architecture,
                info.media_type,
                info.components.len(),
                info.unique_blobs,
                format_size(info.unique_bytes)
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
        Err(e) => return usage(e, "--from"),
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
