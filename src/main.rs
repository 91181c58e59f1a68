//! The `siemfwd` binary: parses the command line, runs the command, picks the exit status.
#![forbid(unsafe_code)]

use std::io::{self, BufWriter, Write};
use std::process::ExitCode;

use clap::Parser;
mod cli;

use cli::{Cli, Command, run_map};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Map(args) => {
            let stdout = io::stdout();
            let mut out = BufWriter::with_capacity(256 * 1024, stdout.lock());
            let mut err = io::stderr();
            match run_map(&args, &mut out, &mut err) {
                Ok(outcome) if outcome.unreadable > 0 => ExitCode::from(2),
                Ok(outcome) if outcome.rejected > 0 => ExitCode::from(1),
                Ok(_) => ExitCode::SUCCESS,
                Err(e) => {
                    let _ = out.flush();
                    eprintln!("siemfwd: {e:#}");
                    ExitCode::from(2)
                }
            }
        }
    }
}
