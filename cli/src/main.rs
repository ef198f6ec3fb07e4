//! `chatsync`: the live demo of the sync checklist (`demo`), the reference server
//! (`serve`), a headless requester client (`client`) and the benchmark suite
//! (`bench`). See `docs/cli.md`.
//!
//! Exit codes: 0 success; 1 when the command ran but the server or the data were bad
//! (the error is in the output); 2 for usage errors (clap's own, an invalid
//! `--server` URL, an unusable chat id or message). Logs go to stderr (`RUST_LOG`,
//! default `warn`; `serve` defaults to `info`).

mod client;
mod demo;
mod output;
mod progress;
mod recorder;

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

/// How a command ended; maps onto the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Exit 0.
    Success,
    /// Exit 1: the command ran, but the server or the data were bad.
    Failed,
    /// Exit 2: the invocation was wrong.
    Usage,
}

impl Outcome {
    fn code(self) -> ExitCode {
        match self {
            Outcome::Success => ExitCode::SUCCESS,
            Outcome::Failed => ExitCode::from(1),
            Outcome::Usage => ExitCode::from(2),
        }
    }
}

/// The command line.
#[derive(Debug, Parser)]
#[command(
    name = "chatsync",
    version,
    about = "Deterministic, sequence-based chat sync: live demo, reference server, headless client",
    propagate_version = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Start a reference server and a client in-process and walk live through the
    /// seed's verification checklist (PASS/FAIL per step; exit 1 on any FAIL).
    Demo(demo::DemoArgs),
    /// Run the reference server (prints one JSON line once listening; SIGTERM stops it).
    Serve {
        #[command(flatten)]
        args: chatsync_server::ServeArgs,
    },
    /// A headless requester client over a persistent SQLite cache.
    Client(client::ClientArgs),
    /// Run the benchmark suite against an in-process reference server on loopback and
    /// print one table (`--json` for machines). Missed targets are reported, not an
    /// error: exit 1 only when a measurement could not be taken.
    Bench(chatsync_bench::BenchArgs),
}

/// `chatsync bench`: the suite runs on its own thread and runtime.
fn bench(args: &chatsync_bench::BenchArgs) -> Outcome {
    match chatsync_bench::run(args) {
        Ok(report) => {
            println!("{}", report.render(args));
            Outcome::Success
        }
        Err(error) => {
            if args.json {
                println!("{}", serde_json::json!({ "error": error.to_string() }));
            } else {
                println!("error: {error}");
            }
            eprintln!("chatsync bench: {error}");
            Outcome::Failed
        }
    }
}

/// Logs to stderr, filtered by `RUST_LOG` (default `warn`).
fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

fn run(cli: Cli) -> Outcome {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("chatsync")
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("chatsync: cannot start the async runtime: {e}");
            return Outcome::Failed;
        }
    };
    let handle = runtime.handle().clone();
    let outcome = runtime.block_on(async move {
        match cli.command {
            Command::Serve { args } => match chatsync_server::run(args).await {
                Ok(()) => Outcome::Success,
                Err(error) => {
                    eprintln!("chatsync serve: {error}");
                    if matches!(error, chatsync_server::ServerError::Config(_)) {
                        Outcome::Usage
                    } else {
                        Outcome::Failed
                    }
                }
            },
            Command::Client(args) => {
                init_tracing();
                client::run(args, handle).await
            }
            Command::Demo(args) => {
                init_tracing();
                demo::run(args, handle).await
            }
            Command::Bench(args) => {
                // Blocks this thread only: the suite has its own thread and runtime.
                init_tracing();
                bench(&args)
            }
        }
    });
    runtime.shutdown_timeout(Duration::from_secs(2));
    outcome
}

fn main() -> ExitCode {
    std::panic::set_hook(Box::new(|info| {
        eprintln!("chatsync: internal error (this is a bug): {info}");
    }));
    let cli = Cli::parse();
    match std::panic::catch_unwind(move || run(cli)) {
        Ok(outcome) => outcome.code(),
        Err(_) => Outcome::Failed.code(),
    }
}
