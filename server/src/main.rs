//! `chatsync-server`: the reference backend as a process. See `docs/protocol.md`.

use std::process::ExitCode;

use clap::Parser;

/// Command line of the binary: exactly the shared [`chatsync_server::ServeArgs`].
#[derive(Debug, Parser)]
#[command(
    name = "chatsync-server",
    version,
    about = "The chatsync reference backend"
)]
struct Cli {
    #[command(flatten)]
    serve: chatsync_server::ServeArgs,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match chatsync_server::run(cli.serve).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("chatsync-server: {error}");
            ExitCode::FAILURE
        }
    }
}
