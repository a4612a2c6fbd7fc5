//! `mirror-fixture`: start harness registries that outlive the command, and push the
//! synthetic release into one. Used by the quickstart and the benchmarks.
//!
//! ```text
//! mirror-fixture up --dir DIR [--tls] [--empty] [--components N --total-mib M --big-mib B]
//! mirror-fixture down --dir DIR
//! ```
//! `up` prints a JSON description on stdout (and writes it to DIR/fixture.json).

use std::path::PathBuf;
use std::process::ExitCode;

use mirror_core::RegistryClient;
use mirror_testkit::fixture::{self, FixtureSpec};
use mirror_testkit::{RegistryOptions, TestRegistry};

fn usage() -> ExitCode {
    eprintln!(
        "usage: mirror-fixture up --dir DIR [--tls] [--empty] [--components N] [--total-mib M] [--big-mib B]\n       mirror-fixture down --dir DIR"
    );
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(verb) = args.first().cloned() else {
        return usage();
    };
    let mut dir = None;
    let mut tls = false;
    let mut empty = false;
    let mut scale: (Option<usize>, Option<u64>, Option<u64>) = (None, None, None);
    let mut it = args[1..].iter();
    while let Some(a) = it.next() {
        let mut val = || it.next().cloned();
        match a.as_str() {
            "--dir" => dir = val().map(PathBuf::from),
            "--tls" => tls = true,
            "--empty" => empty = true,
            "--components" => scale.0 = val().and_then(|v| v.parse().ok()),
            "--total-mib" => scale.1 = val().and_then(|v| v.parse().ok()),
            "--big-mib" => scale.2 = val().and_then(|v| v.parse().ok()),
            _ => return usage(),
        }
    }
    let Some(dir) = dir else { return usage() };
    match verb.as_str() {
        "up" => up(dir, tls, empty, scale),
        "down" => down(&dir),
        _ => usage(),
    }
}

fn up(
    dir: PathBuf,
    tls: bool,
    empty: bool,
    scale: (Option<usize>, Option<u64>, Option<u64>),
) -> ExitCode {
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("error: create `{}`: {e}", dir.display());
        return ExitCode::from(1);
    }
    let dir = dir.canonicalize().unwrap_or(dir);
    let reg = TestRegistry::start_with(RegistryOptions {
        tls,
        root: Some(dir.join("registry")),
        ..Default::default()
    });
    let mut desc = serde_json::json!({
        "registry": reg.host,
        "caFile": reg.ca_file(),
        "registryFlags": reg.cli_flags(),
    });
    if !empty {
        let spec = match scale {
            (None, None, None) => FixtureSpec::tiny(),
            (c, t, b) => {
                let mut s =
                    FixtureSpec::scaled(c.unwrap_or(100), t.unwrap_or(2304), b.unwrap_or(600));
                s.work_dir = Some(dir.join("layers"));
                s
            }
        };
        let rt = match tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => {
                eprintln!("error: runtime: {e}");
                return ExitCode::from(1);
            }
        };
        let client = match RegistryClient::new(reg.client_options()) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(1);
            }
        };
        let f = rt.block_on(fixture::push(&spec, &client, &reg.host));
        // The registry holds the layers now; the generated copies are not needed.
        let _ = std::fs::remove_dir_all(dir.join("layers"));
        desc["fixture"] = serde_json::to_value(&f).unwrap_or_default();
    }
    let pid = reg.detach();
    desc["pid"] = pid.into();
    let text = serde_json::to_string_pretty(&desc).unwrap_or_default();
    let _ = std::fs::write(dir.join("registry.pid"), pid.to_string());
    let _ = std::fs::write(dir.join("fixture.json"), &text);
    // The same facts for shell scripts: `. DIR/fixture.env`.
    let mut env = format!(
        "REGISTRY={}\nREGISTRY_PID={pid}\n",
        desc["registry"].as_str().unwrap_or_default()
    );
    if let Some(ca) = desc["caFile"].as_str() {
        env.push_str(&format!("CA_FILE={ca}\n"));
    }
    if let Some(r) = desc["fixture"]["release"].as_str() {
        env.push_str(&format!(
            "RELEASE={r}\nRELEASE_DIGEST={}\n",
            desc["fixture"]["release_digest"]
                .as_str()
                .unwrap_or_default()
        ));
    }
    let _ = std::fs::write(dir.join("fixture.env"), env);
    println!("{text}");
    ExitCode::SUCCESS
}

fn down(dir: &std::path::Path) -> ExitCode {
    let pid_file = dir.join("registry.pid");
    let Ok(pid) = std::fs::read_to_string(&pid_file) else {
        eprintln!("no registry running under `{}`", dir.display());
        return ExitCode::SUCCESS;
    };
    let pid = pid.trim();
    let status = std::process::Command::new("kill").arg(pid).status();
    let _ = std::fs::remove_file(&pid_file);
    match status {
        Ok(s) if s.success() => ExitCode::SUCCESS,
        _ => {
            eprintln!("registry pid {pid} was not running");
            ExitCode::SUCCESS
        }
    }
}
