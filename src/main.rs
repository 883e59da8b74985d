//! The `dosim` command.

fn main() {
    std::process::exit(dosim::cli::main());
}
