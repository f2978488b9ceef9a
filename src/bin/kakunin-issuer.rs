//! `kakunin-issuer`: the reference issuer (保証事業会社の側). See `kakunin::issuer`.

fn main() -> std::process::ExitCode {
    kakunin::issuer::cli::main()
}
