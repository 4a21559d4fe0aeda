//! The `dpi` command.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use dpi_train::commands;

/// Protocol classification and signature training over packet captures.
#[derive(Parser)]
#[command(name = "dpi", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write one record per flow: endpoints, counters, first payload sizes and user data.
    Extract(commands::extract::ExtractArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Extract(a) => commands::extract::run(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("dpi: error: {e:#}");
            ExitCode::from(2)
        }
    }
}
