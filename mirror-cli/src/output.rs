//! How the CLI talks: data on stdout, everything else on stderr; errors with `hint:` lines.

use std::io::{IsTerminal as _, Write as _};

/// The schema of every `--output json` report.
pub const API_VERSION: &str = "mirrorctl.openshift.io/v1alpha1";

/// Exit codes (documented in docs/cli.md): the command did what was asked.
pub const EXIT_OK: u8 = 0;
/// The command ran and found a problem (a failed check, an incomplete mirror).
pub const EXIT_PROBLEM: u8 = 1;
/// Usage error or unexpected failure.
pub const EXIT_USAGE: u8 = 2;

/// Prints `error: ...` and any `hint: ...` to stderr.
pub fn print_error(err: &dyn std::error::Error, hint: Option<String>) {
    eprintln!("error: {err}");
    if let Some(h) = hint {
        eprintln!("hint: {h}");
    }
}

/// A library hint worded for the command being run.
pub fn hint_text(hint: Option<mirror_core::Hint>) -> Option<String> {
    hint.as_ref().map(crate::hints::render)
}

/// Prints a core error with its hint; returns the exit code it maps to.
pub fn core_error(err: &mirror_core::Error) -> u8 {
    print_error(err, hint_text(err.hint()));
    match err {
        mirror_core::Error::InvalidReference { .. }
        | mirror_core::Error::InvalidSetting { .. }
        | mirror_core::Error::Channel { .. }
        | mirror_core::Error::ImageSetConfig { .. } => EXIT_USAGE,
        _ => EXIT_PROBLEM,
    }
}

/// Writes data to stdout. A reader that went away (`mirrorctl ... | head -1`) ends the process
/// quietly with exit 0, as the shell expects, instead of the panic `println!` gives on EPIPE.
pub fn stdout(s: &str) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(s.as_bytes()).and_then(|_| out.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(EXIT_OK.into());
        }
        eprintln!("error: cannot write to stdout: {e}");
        std::process::exit(EXIT_USAGE.into());
    }
}

/// `report` as an `--output json` document: `apiVersion` and `kind` first, then its fields.
pub fn json_report(kind: &str, report: serde_json::Value) -> String {
    let mut v = serde_json::json!({ "apiVersion": API_VERSION, "kind": kind });
    if let (Some(obj), serde_json::Value::Object(rest)) = (v.as_object_mut(), report) {
        obj.extend(rest);
    }
    serde_json::to_string_pretty(&v).unwrap_or_default() + "\n"
}

/// True when stderr is a terminal and progress may be drawn.
pub fn stderr_is_tty() -> bool {
    std::io::stderr().is_terminal()
}

/// Human-readable bytes (binary units, 4 significant digits like `oc`).
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n}B")
    } else {
        let digits = if v >= 100.0 {
            1
        } else if v >= 10.0 {
            2
        } else {
            3
        };
        format!("{v:.digits$}{}", UNITS[u])
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn bytes() {
        let table = [
            (0, "0B"),
            (629, "629B"),
            (1773, "1.731KiB"),
            (79_953_920, "76.25MiB"),
            (15 << 30, "15.00GiB"),
        ];
        for (n, want) in table {
            assert_eq!(super::human_bytes(n), want);
        }
    }
}
