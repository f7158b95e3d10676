//! `host-test`: see `host-test --help` (the commands live in the library's `cli` module).

fn main() -> std::process::ExitCode {
    host_test::cli::main()
}
