//! `dosim conformance`: the storage programs of `conformance/programs/` on dosim and on
//! workerd, compared (see `crate::conformance`). Exit 0 when every disagreement is a known
//! difference (or Node.js is missing: then nothing runs), 1 on an unexplained one, 2 when
//! the run itself could not be made.

use super::{EXIT_OK, EXIT_USAGE, EXIT_VIOLATION};
use crate::conformance::{self, Options, Outcome};
use clap::Args;
use std::path::PathBuf;

#[derive(Args)]
pub struct ConformanceArgs {
    /// Seeds dosim runs each concurrent program over.
    #[arg(long, default_value_t = 200)]
    seeds: u64,
    /// Only the programs whose id contains this.
    #[arg(long)]
    only: Option<String>,
    /// The folder with `programs/` and `known-differences.json` (default: ./conformance).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Also list the programs that agree.
    #[arg(long, short)]
    verbose: bool,
    /// Also print what both sides answered for each program run alone.
    #[arg(long)]
    show: bool,
}

pub fn conformance(a: &ConformanceArgs) -> i32 {
    let opts = Options {
        dir: a.dir.clone().unwrap_or_else(conformance::default_dir),
        seeds: a.seeds.max(1),
        only: a.only.clone(),
        verbose: a.verbose,
        show: a.show,
    };
    match conformance::run(&opts, true) {
        Ok(Outcome::Skipped(why)) => {
            println!("dosim conformance: {why}");
            EXIT_OK
        }
        Ok(Outcome::Done(r)) if r.unexplained() == 0 => EXIT_OK,
        Ok(Outcome::Done(_)) => EXIT_VIOLATION,
        Err(e) => {
            eprintln!("dosim conformance: error: {e}");
            EXIT_USAGE
        }
    }
}
