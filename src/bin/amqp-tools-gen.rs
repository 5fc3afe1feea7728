//! amqp-tools-gen: writes the manual pages and the shell completions of the five tools.
//!
//! ```text
//! amqp-tools-gen OUTDIR
//! ```
//!
//! The Debian package runs it at build time (`debian/rules`); it is not installed. What it
//! writes and how: [`amqp_tools::cli::doc`].

use amqp_tools::cli::doc::generate;
use std::path::Path;
use std::process::ExitCode;

const USAGE: &str = "usage: amqp-tools-gen OUTDIR

Writes the man pages (OUTDIR/man/*.1, OUTDIR/man/amqp-tools.7) and the bash, zsh and fish
completions (OUTDIR/completions/{bash,zsh,fish}/) of the amqp tools.";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [flag] if flag == "-h" || flag == "--help" => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        [outdir] if !outdir.starts_with('-') => match generate(Path::new(outdir)) {
            Ok(written) => {
                for path in written {
                    println!("{}", path.display());
                }
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("amqp-tools-gen: {error}");
                ExitCode::FAILURE
            }
        },
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}
