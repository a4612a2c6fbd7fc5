//! `mirrorctl`: a thin shim over the mirrorctl libraries. Parse, build the runtime, run,
//! map the outcome to an exit code (0 ok, 1 a problem found, 2 usage or unexpected error).

// Doc comments in this crate are clap's help text (`<REPO>`, `<arch>` are placeholders users
// read in --help), not rustdoc.
#![allow(rustdoc::invalid_html_tags)]

mod cli;
mod cmd;
mod hints;
mod output;
mod progress;

use clap::{CommandFactory as _, FromArgMatches as _};

fn main() -> std::process::ExitCode {
    quiet_on_closed_stdout();
    let root = cli::Cli::command();
    let matches = root.clone().get_matches();
    let cli = cli::Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    hints::set_command(leaf(&root, &matches));
    if let Err(e) = logging(cli.verbose, cli.log_level.as_deref()) {
        eprintln!("error: --log-level: {e}");
        eprintln!(
            "hint: give a level (`error`, `warn`, `info`, `debug`, `trace`) or `target=level` pairs separated by commas"
        );
        return std::process::ExitCode::from(2);
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let code = rt.block_on(cmd::run(cli));
    std::process::ExitCode::from(code)
}

/// Request logs on stderr: off unless `-v` (the libraries' requests and retries), `-vv`
/// (everything, HTTP internals included) or `--log-level FILTER`.
fn logging(verbose: u8, level: Option<&str>) -> Result<(), String> {
    let filter = match (level, verbose) {
        (Some(l), _) => l.to_string(),
        (None, 0) => return Ok(()),
        (None, 1) => "mirror_core=debug".to_string(),
        (None, _) => "trace".to_string(),
    };
    let filter = tracing_subscriber::EnvFilter::try_new(&filter).map_err(|e| e.to_string())?;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(output::stderr_is_tty() && std::env::var_os("NO_COLOR").is_none())
        .with_target(false)
        .try_init()
        .map_err(|e| e.to_string())
}

/// The subcommand that was run, for hints that name its flags.
fn leaf<'a>(mut cmd: &'a clap::Command, mut m: &clap::ArgMatches) -> &'a clap::Command {
    while let Some((name, sub)) = m.subcommand() {
        match cmd.find_subcommand(name) {
            Some(c) => (cmd, m) = (c, sub),
            None => break,
        }
    }
    cmd
}

/// `println!` panics when stdout's reader went away (`mirrorctl ... | head -1`); commands write
/// through `output::stdout`, which exits quietly, and this catches any `println!` left over.
fn quiet_on_closed_stdout() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let msg = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if msg.starts_with("failed printing to stdout") && msg.contains("Broken pipe") {
            std::process::exit(output::EXIT_OK.into());
        }
        default(info);
    }));
}
