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
    /// The compatibility date of the programs that name none, on both sides (default
    /// 2026-11-17, the pinned workerd's).
    #[arg(long, value_name = "YYYY-MM-DD")]
    compatibility_date: Option<String>,
    /// Compatibility flags, comma-separated, for the programs that name none.
    #[arg(long, value_name = "A,B", value_delimiter = ',')]
    compatibility_flags: Vec<String>,
}

pub fn conformance(a: &ConformanceArgs) -> i32 {
    let date = a.compatibility_date.as_deref().unwrap_or(crate::sim::compat::DEFAULT_DATE);
    let compatibility = match crate::sim::Compatibility::new(date, &a.compatibility_flags) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("dosim conformance: error: {e}");
            return EXIT_USAGE;
        }
    };
    let opts = Options {
        dir: a.dir.clone().unwrap_or_else(conformance::default_dir),
        seeds: a.seeds.max(1),
        only: a.only.clone(),
        verbose: a.verbose,
        show: a.show,
        compatibility,
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
