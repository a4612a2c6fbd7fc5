//! `mirrorctl`: a thin shim over the mirrorctl libraries. Parse, build the runtime, run,
//! map the outcome to an exit code (0 ok, 1 a problem found, 2 usage or unexpected error).

mod cli;
mod cmd;
mod output;

use clap::Parser as _;

fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
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
