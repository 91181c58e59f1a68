//! The `siemfwd` binary: parses the command line, runs the command, picks the exit status.
#![forbid(unsafe_code)]
// No input may panic the forwarder (issue 13): outside tests, an `unwrap` or `expect` needs a
// local `allow` that says why the invariant holds (`[lints]` in Cargo.toml, clippy.toml).

use std::io::{self, BufWriter, Write};
use std::process::ExitCode;

use clap::Parser;
mod cli;

use cli::{Cli, Command, check, demo, run_map, run_simulate};

/// The config file the command reads, if any.
fn config_of(command: &Command) -> Option<&std::path::Path> {
    match command {
        Command::Run(a) => Some(&a.config),
        Command::Replay(a) => Some(&a.config),
        Command::Check(a) => Some(&a.config),
        _ => None,
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let format = match &cli.log_format {
        Some(f) => f.parse().unwrap_or_default(),
        None => cli::logging::config_format(config_of(&cli.command)).unwrap_or_default(),
    };
    if let Err(e) = cli::logging::init(format) {
        eprintln!("siemfwd: {e}");
        return ExitCode::from(2);
    }
    match cli.command {
        Command::Map(args) => {
            let stdout = io::stdout();
            let mut out = BufWriter::with_capacity(256 * 1024, stdout.lock());
            let mut err = io::stderr();
            match run_map(&args, &mut out, &mut err) {
                Ok(outcome) if outcome.unreadable > 0 => ExitCode::from(2),
                Ok(outcome) if outcome.undelivered > 0 => ExitCode::from(3),
                Ok(outcome) if outcome.rejected > 0 => ExitCode::from(1),
                Ok(_) => ExitCode::SUCCESS,
                Err(e) => {
                    let _ = out.flush();
                    eprintln!("siemfwd: {}", each_cause_once(&e));
                    ExitCode::from(2)
                }
            }
        }
        Command::Demo(args) => exit(demo(&args, &mut io::stderr())),
        Command::Run(args) => exit(cli::forward::run(&args)),
        Command::Replay(args) => exit(cli::forward::replay(&args, &mut io::stderr())),
        Command::Check(args) => exit(check(&args, &mut io::stdout())),
        Command::Auth(args) => exit(cli::auth::auth(&args, &mut io::stdout(), &mut io::stderr())),
        Command::Completions(args) => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(args.shell, &mut cmd, "siemfwd", &mut io::stdout());
            ExitCode::SUCCESS
        }
        Command::Man => {
            let cmd = <Cli as clap::CommandFactory>::command();
            match clap_mangen::Man::new(cmd).render(&mut io::stdout()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("siemfwd: cannot write the manual page: {e}");
                    ExitCode::from(2)
                }
            }
        }
        Command::Simulate(args) => match run_simulate(&args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("siemfwd: {}", each_cause_once(&e));
                ExitCode::from(2)
            }
        },
    }
}

/// The status a command chose, or 2 with the error's whole chain.
fn exit(result: anyhow::Result<u8>) -> ExitCode {
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("siemfwd: {}", each_cause_once(&e));
            ExitCode::from(2)
        }
    }
}

/// The error and its causes, each printed once. Library errors already write their cause into
/// their own message (`cannot read config file F: No such file or directory`), so printing
/// the chain as well (`{:#}`) said it twice, or four times through four layers.
fn each_cause_once(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let part = cause.to_string();
        if text.contains(&part) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&part);
    }
    text
}
