//! `kakunin-issuer`: the reference issuer (保証事業会社の側). See the crate documentation.

fn main() -> std::process::ExitCode {
    kakunin_issuer::commands::main()
}
