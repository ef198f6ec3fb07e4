//! Runs the suite without the `chatsync` CLI:
//! `cargo run --release -p chatsync-bench --example bench -- [--json] [--quick] [--markdown] [--only resync,open]`.

use clap::Parser;

/// The suite's arguments as a command.
#[derive(Parser)]
#[command(about = "chatsync benchmark suite")]
struct Command {
    #[command(flatten)]
    args: chatsync_bench::BenchArgs,
}

fn main() -> std::process::ExitCode {
    let command = Command::parse();
    match chatsync_bench::run(&command.args) {
        Ok(report) => {
            println!("{}", report.render(&command.args));
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("chatsync bench: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
