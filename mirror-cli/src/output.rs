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

/// Prints `error: ...` with the error's causes (`a: b: c`) and any `hint: ...` to stderr.
pub fn print_error(err: &(dyn std::error::Error + 'static), hint: Option<String>) {
    eprintln!("error: {}", mirror_core::ErrorChain(err));
    if let Some(h) = hint {
        eprintln!("hint: {h}");
    }
}

/// A library hint worded for the command being run.
pub fn hint_text(hint: Option<mirror_core::Hint>) -> Option<String> {
    hint.as_ref().map(crate::hints::render)
}

/// Prints a core error with its causes and hint; returns its exit code: usage (2) for a bad
/// input, problem (1) otherwise ([`mirror_core::Error::is_usage`]).
pub fn core_error(err: &mirror_core::Error) -> u8 {
    print_error(err, hint_text(err.hint()));
    exit_code(err.is_usage())
}

/// The exit code of a failure: [`EXIT_USAGE`] for a bad input, else [`EXIT_PROBLEM`].
pub fn exit_code(usage: bool) -> u8 {
    if usage { EXIT_USAGE } else { EXIT_PROBLEM }
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

/// A report that carries its own `apiVersion` and `kind`, as pretty JSON with a final newline.
pub fn report_json(report: &impl serde::Serialize) -> String {
    serde_json::to_string_pretty(report)
        .map(|s| s + "\n")
        .unwrap_or_default()
}

/// True when stderr is a terminal and progress may be drawn.
pub fn stderr_is_tty() -> bool {
    std::io::stderr().is_terminal()
}
