//! `mirrorctl`: a thin shim over the mirrorctl libraries. Parse, build the runtime, run,
//! map the outcome to an exit code (0 ok, 1 a problem found, 2 usage or unexpected error).

mod cli;
mod cmd;
mod hints;
mod output;
mod progress;
mod version;

use clap::{CommandFactory as _, FromArgMatches as _};

fn main() -> std::process::ExitCode {
    quiet_on_closed_stdout();
    let root = cli::Cli::command();
    let matches = root.clone().get_matches();
    let cli = cli::Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    hints::set_command(leaf(&root, &matches));
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
