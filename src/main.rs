//! The `llms` binary: parse flags, start logging, run the library, map the result to an
//! exit code (0 success, 1 error, 2 usage error from clap).

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

/// jemalloc, not glibc's malloc or mimalloc: measured by the load test (BENCHMARKS.md,
/// run 6). Its per-thread cache hands a request back the blocks the last one freed, still
/// in the CPU's cache (mimalloc hands out a page's cold blocks first), so `GET /auth` runs
/// nearer a bare axum handler; a server holding 100,000 sessions takes about two thirds of
/// the memory it took with mimalloc, and each open gateway stream about half.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

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
