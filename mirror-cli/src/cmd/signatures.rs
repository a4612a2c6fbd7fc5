//! The signature flags of `release mirror` resolved into [`SignatureOptions`], and the
//! signature part of its text output.

use mirror_core::{
    Keyring, SignatureOptions, SignatureReport, SignatureStatus, SignatureStore, StoreResult,
};

use crate::cli::SignatureArgs;

/// A flag whose value is unusable: the flag, and the error.
pub type FlagError = Box<(&'static str, mirror_core::Error)>;

/// Reads the key files and checks the store URLs, before any work starts.
pub fn options(args: &SignatureArgs, ca_pems: &[Vec<u8>]) -> Result<SignatureOptions, FlagError> {
    let mut keyrings = Vec::new();
    for path in &args.keys {
        let bytes = std::fs::read(path).map_err(|e| {
            Box::new((
                "--signature-key",
                mirror_core::Error::Io {
                    action: "read signature key",
                    path: path.clone(),
                    source: e,
                },
            ))
        })?;
        let name = path.display().to_string();
        let ring = Keyring::parse(&name, &bytes).map_err(|reason| {
            Box::new((
                "--signature-key",
                mirror_core::Error::SignatureKey {
                    source_name: name.clone(),
                    reason,
                },
            ))
        })?;
        keyrings.push(ring);
    }
    let stores = args
        .stores
        .iter()
        .map(|s| SignatureStore::parse(s))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Box::new(("--signature-store", e)))?;
    Ok(SignatureOptions {
        skip: args.skip_signatures,
        require: args.require_signatures,
        keyrings,
        stores,
        ca_pems: ca_pems.to_vec(),
        to_dir: args.release_image_signature_to_dir.clone(),
    })
}

/// The stderr line for the signature check (progress).
pub fn progress_line(r: &SignatureReport) -> String {
    match r.status {
        SignatureStatus::Verified => format!("info: Release signature verified: {}", who(r)),
        SignatureStatus::Skipped => "info: Release signature not checked (skipped)".into(),
        SignatureStatus::Unsigned | SignatureStatus::NotConfigured => format!(
            "warning: {}; mirroring it unverified",
            r.warning
                .as_deref()
                .unwrap_or("the release signature was not verified")
        ),
    }
}

/// `signature-1 from <store> by <key> (keyring <name>)`, for each verified signature.
fn who(r: &SignatureReport) -> String {
    r.signatures
        .iter()
        .map(|s| {
            let keys: Vec<String> = s
                .verified_by
                .iter()
                .map(|k| format!("key {} (keyring `{}`)", k.key_fingerprint, k.keyring))
                .collect();
            format!("`{}` by {}", s.location, keys.join(" and "))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The signature part of the text report (after the mirror instructions), with oc's lines for
/// the ConfigMap and how to give the cluster the signature.
pub fn render(r: &SignatureReport, dry_run: bool) -> String {
    let mut out = String::from("\n");
    match r.status {
        SignatureStatus::Verified => {
            out.push_str(&format!("Release signature: verified ({})\n", who(r)));
        }
        SignatureStatus::Skipped => {
            out.push_str("Release signature: not checked (--skip-signatures)\n");
            return out;
        }
        SignatureStatus::Unsigned | SignatureStatus::NotConfigured => {
            let tried: Vec<String> = r
                .stores
                .iter()
                .filter(|s| s.result != StoreResult::NotTried)
                .map(|s| s.url.clone())
                .collect();
            out.push_str(&format!(
                "Release signature: unverified: {}\n",
                r.warning.as_deref().unwrap_or("no signature")
            ));
            if !tried.is_empty() {
                out.push_str(
                    "A disconnected cluster refuses to upgrade to a release whose signature it cannot find: copy the signatures from a connected host and mirror again with --signature-store file://DIR\n",
                );
            }
            return out;
        }
    }
    let Some(files) = &r.files else {
        out.push_str("To give a disconnected cluster this signature for upgrades, mirror again with --release-image-signature-to-dir DIR\n");
        return out;
    };
    let dir = files.dir.display();
    if dry_run {
        out.push_str(&format!(
            "Dry run: would write {} and the signature store tree under {dir}\n",
            files.config_map.display()
        ));
        return out;
    }
    // oc's words, then where the store tree is and how a cluster uses it.
    out.push_str(&format!(
        "\nTo apply signature configmaps use 'oc apply' on files found in {dir}\n\n"
    ));
    out.push_str(&format!(
        "Configmap signature file {} created\n",
        files.config_map.display()
    ));
    out.push_str(&format!(
        "  apply it: oc apply -f {}\n",
        files.config_map.display()
    ));
    for f in &files.store_files {
        out.push_str(&format!("Signature store file {} created\n", f.display()));
    }
    out.push_str(&format!(
        "  or serve {dir} over HTTP(S) and list its URL in the ClusterVersion's spec.signatureStores\n"
    ));
    out
}
