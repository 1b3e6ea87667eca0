//! `csghub-cli`: the command-line client. It owns the environment, the terminal and exit codes;
//! the work lives in the library crates.

fn main() {
    println!("csghub-cli {}", env!("CARGO_PKG_VERSION"));
}
