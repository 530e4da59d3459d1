//! The `llms` binary: parse flags, start logging, run the library, map the result to an
//! exit code (0 success, 1 error, 2 usage error from clap).

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

/// mimalloc, not glibc's malloc: measured by the load test (BENCHMARKS.md), `GET /auth`
/// runs about 15% faster, and a server holding 100,000 sessions and 10,000 users no longer
/// loses several per cent to glibc's fuller heap; it costs a few MiB of resident memory.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = llms_auth::cli::Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env("LLMS_LOG").unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        // Colour codes only for a terminal, not in a log file.
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    match llms_auth::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("{}", llms_auth::cli::report(&err));
            ExitCode::from(1)
        }
    }
}
