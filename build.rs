//! `embed_migrations!` reads the migrations folders at compile time, but cargo does not
//! know that: without this, a new migration is left out until something else changes
//! (diesel_migrations documents the same line).
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
