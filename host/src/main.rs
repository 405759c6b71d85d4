//! `oidc-host`: run the OIDC filter standalone (`run`), validate a configuration (`check`), or try it
//! out with a local issuer and echo upstream (`demo`).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};
use oidc_host::config::HostConfig;
use oidc_host::logs;
use oidc_host::proxy::{self, Gateway};

#[derive(Parser)]
#[command(
    name = "oidc-host",
    version,
    about = "Run the OIDC/JWT proxy-wasm filter in front of an HTTP application"
)]
struct Cli {
    /// Log line format.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    log_format: LogFormat,
    /// Log filter (`info`, `debug`, `oidc_host=trace`, ...); without it RUST_LOG, else `info`.
    #[arg(long, global = true)]
    log_level: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway described by a config file until SIGTERM or Ctrl-C.
    Run {
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Validate the host config and the filter's configuration (through its on_configure), then exit.
    Check {
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Start a local issuer, an echo upstream and the gateway, and print curl commands to try.
    Demo {
        /// Port for the gateway (0 picks a free one).
        #[arg(long, default_value_t = 8080)]
        port: u16,
    },
}

/// Installs the log subscriber. Lines are formatted on the thread that logs them and written to
/// stderr by a flusher thread (`oidc_host::logs`), so a worker serving requests neither writes
/// nor wakes anyone for its audit line. Colours only when stderr is a terminal. The returned
/// flusher writes what is still buffered when dropped.
fn init_logging(format: LogFormat, level: Option<&str>) -> anyhow::Result<logs::Flusher> {
    use std::io::IsTerminal as _;
    use tracing_subscriber::EnvFilter;
    let filter = match level {
        Some(level) => {
            EnvFilter::try_new(level).with_context(|| format!("invalid --log-level {level:?}"))?
        }
        None => EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
    };
    let (writer, flusher) = logs::buffered(std::io::stderr(), logs::FlushPolicy::default())
        .context("cannot start the log thread")?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(writer);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
    Ok(flusher)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let log_flusher = match init_logging(cli.log_format, cli.log_level.as_deref()) {
        Ok(flusher) => flusher,
        Err(error) => {
            eprintln!("error: {error:#}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Run { config } => run(&config).await,
            Command::Check { config } => check(&config).await,
            Command::Demo { port } => demo(port).await,
        }
    });
    // Everything logged goes out before the final word: the workers stop with the runtime, then
    // the flusher writes what they logged.
    drop(runtime);
    drop(log_flusher);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(path: &std::path::Path) -> anyhow::Result<()> {
    let config = HostConfig::load(path)?;
    let gateway = Gateway::start(&config).await?;
    tracing::info!(addr = %gateway.addr(), "ready");
    shutdown_signal().await;
    tracing::info!("signal received; stopping");
    gateway.shutdown().await;
    Ok(())
}

async fn demo(port: u16) -> anyhow::Result<()> {
    let demo = oidc_host::demo::Demo::start(port, oidc_host::embedded::FILTER_WASM.to_vec())
        .await
        .context("cannot start the demo")?;
    println!("{}", demo.instructions());
    shutdown_signal().await;
    demo.gateway.shutdown().await;
    Ok(())
}

async fn check(path: &std::path::Path) -> anyhow::Result<()> {
    let config = HostConfig::load(path)?;
    proxy::check(&config)
        .await
        .with_context(|| format!("{} is not valid", path.display()))?;
    println!("{}: ok", path.display());
    Ok(())
}

/// Resolves on SIGTERM or Ctrl-C (SIGINT).
pub(crate) async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
