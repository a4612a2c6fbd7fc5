//! Command implementations: resolve arguments into library settings, call the library,
//! render the result.

mod access;
pub(crate) mod bundle;
mod bundle_info;
mod config_bundle;
pub(crate) mod generate;
mod graph;
mod install;
pub(crate) mod mirror;
mod preflight;
pub(crate) mod pull_secret;
pub(crate) mod registry;
mod release;
pub(crate) mod secret_input;
pub(crate) mod signatures;
pub(crate) mod storage;
pub(crate) mod tls;
pub(crate) mod trust;

use crate::cli::{Cli, Command, ReleaseCommand};

/// Runs a parsed command line; returns the exit code.
pub async fn run(cli: Cli) -> u8 {
    let quiet = cli.quiet;
    match cli.command {
        Command::Release(ReleaseCommand::Mirror(args)) => mirror::release_mirror(args, quiet).await,
        Command::Release(ReleaseCommand::Info(args)) => release::info(args, quiet).await,
        Command::Release(ReleaseCommand::Extract(args)) => release::extract(args, quiet).await,
        Command::Release(ReleaseCommand::Graph(args)) => graph::run(args).await,
        Command::Preflight(args) => preflight::run(args, quiet).await,
        Command::Tls(cmd) => tls::run(cmd, quiet),
        Command::Trust(cmd) => trust::run(cmd),
        Command::Registry(cmd) => registry::run(cmd).await,
        Command::PullSecret(cmd) => pull_secret::run(cmd).await,
        Command::Install(args) => install::run(*args, quiet).await,
        Command::Uninstall(args) => install::uninstall(args, quiet),
        Command::Completions(args) => generate::completions(args),
        Command::Man(args) => generate::man(args),
        Command::Mirror(args) => mirror::config_mirror(args, quiet).await,
        Command::Bundle(cmd) => bundle::run(cmd).await,
    }
}

/// Resolves on Ctrl-C or SIGTERM: a long copy stops cleanly (the release tag unwritten).
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
