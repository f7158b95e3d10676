//! Builds the guest components (wasm32-wasip2) that the host's tests, demo and benchmarks load,
//! so that `cargo test` alone works on a fresh clone. wasm32-wasip2 emits components directly:
//! no adapter step.
//!
//! Outputs (exported as compile-time env vars):
//! - `ZENDESK_WASM`: the Zendesk plugin;
//! - `ZENDESK_SWAP_WASM`: the same source with version `<version>-swap` (hot-swap tests);
//! - `ADVERSARY_WASM`: the hostile test guest.

use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "wasm32-wasip2";
const PROFILE: &str = "guest";

/// Env that must not leak from the outer build into the nested wasm build (host flags, the
/// outer target dir, clippy's wrapper...). The jobserver (CARGO_MAKEFLAGS) is kept on purpose.
const LEAKY_ENV: [&str; 6] = [
    "CARGO_ENCODED_RUSTFLAGS",
    "RUSTFLAGS",
    "RUSTC_WRAPPER",
    "RUSTC_WORKSPACE_WRAPPER",
    "CARGO_BUILD_TARGET",
    "CARGO_TARGET_DIR",
];

fn main() {
    let manifest_dir = PathBuf::from(env("CARGO_MANIFEST_DIR"));
    let workspace = manifest_dir
        .parent()
        .expect("host-test lives inside the workspace")
        .to_path_buf();
    for watched in [
        "crates/zendesk",
        "crates/adversary",
        "wit",
        "Cargo.lock",
        "Cargo.toml",
    ] {
        println!(
            "cargo:rerun-if-changed={}",
            workspace.join(watched).display()
        );
    }

    ensure_target_installed();

    let guests = workspace.join("target/guests");
    build_guests(&workspace, &guests, &["zendesk", "adversary"], None);
    let swap = workspace.join("target/guests-swap");
    let swap_version = format!(
        "{}-swap",
        package_version(&workspace.join("crates/zendesk"))
    );
    build_guests(&workspace, &swap, &["zendesk"], Some(&swap_version));

    export("ZENDESK_WASM", &artifact(&guests, "zendesk"));
    export("ADVERSARY_WASM", &artifact(&guests, "adversary"));
    export("ZENDESK_SWAP_WASM", &artifact(&swap, "zendesk"));
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("cargo did not set {name}"))
}

fn ensure_target_installed() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let sysroot = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_string());
    let installed = sysroot
        .as_deref()
        .is_some_and(|sysroot| Path::new(sysroot).join("lib/rustlib").join(TARGET).is_dir());
    if installed {
        return;
    }
    let added = Command::new("rustup")
        .args(["target", "add", TARGET])
        .status()
        .is_ok_and(|status| status.success());
    if !added {
        panic!("the {TARGET} target is not installed; run `rustup target add {TARGET}`");
    }
}

fn build_guests(workspace: &Path, target_dir: &Path, packages: &[&str], version: Option<&str>) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(workspace)
        .args([
            "build",
            "--profile",
            PROFILE,
            "--target",
            TARGET,
            "--target-dir",
        ])
        .arg(target_dir);
    for package in packages {
        command.args(["--package", package]);
    }
    for name in LEAKY_ENV {
        command.env_remove(name);
    }
    match version {
        Some(version) => command.env("ZENDESK_PLUGIN_VERSION", version),
        None => command.env_remove("ZENDESK_PLUGIN_VERSION"),
    };
    let output = command
        .output()
        .unwrap_or_else(|error| panic!("could not run cargo to build the guests: {error}"));
    if !output.status.success() {
        panic!(
            "building the guest components ({}) failed:\n{}",
            packages.join(", "),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// The `version` of a package, read from its Cargo.toml (`version = "x.y.z"`).
fn package_version(package_dir: &Path) -> String {
    let manifest_path = package_dir.join("Cargo.toml");
    let manifest = std::fs::read_to_string(&manifest_path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", manifest_path.display()));
    manifest
        .lines()
        .find_map(|line| {
            let value = line
                .trim()
                .strip_prefix("version")?
                .trim()
                .strip_prefix('=')?;
            Some(value.trim().trim_matches('"').to_string())
        })
        .unwrap_or_else(|| panic!("no version in {}", manifest_path.display()))
}

fn artifact(target_dir: &Path, package: &str) -> PathBuf {
    let path = target_dir
        .join(TARGET)
        .join(PROFILE)
        .join(format!("{package}.wasm"));
    assert!(
        path.is_file(),
        "the guest build did not produce {}",
        path.display()
    );
    path
}

fn export(name: &str, path: &Path) {
    println!("cargo:rustc-env={name}={}", path.display());
}
