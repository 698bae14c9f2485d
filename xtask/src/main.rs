//! Project automation; `cargo xtask ci` lands next.
fn main() {}
