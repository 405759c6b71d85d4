//! Builds the OIDC filter (`filter/wasm`) for wasm32-wasip1 so the binary can embed it as its default
//! filter. The nested cargo uses its own target directory: sharing the outer build's would deadlock on
//! its lock. `OIDC_FILTER_WASM_PATH` names a prebuilt module instead and skips the nested build.

use std::env;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

const WASM_TARGET: &str = "wasm32-wasip1";
const FILTER_PACKAGE: &str = "oidc-filter-wasm";
const FILTER_ARTIFACT: &str = "oidc_filter.wasm";

fn main() -> ExitCode {
    println!("cargo:rerun-if-env-changed=OIDC_FILTER_WASM_PATH");
    if let Some(path) = env::var_os("OIDC_FILTER_WASM_PATH") {
        let path = PathBuf::from(path);
        if !path.is_file() {
            println!(
                "cargo:warning=OIDC_FILTER_WASM_PATH={} is not a file",
                path.display()
            );
            return ExitCode::FAILURE;
        }
        println!("cargo:rerun-if-changed={}", path.display());
        println!("cargo:rustc-env=OIDC_FILTER_WASM={}", path.display());
        return ExitCode::SUCCESS;
    }

    let Some(manifest_dir) = env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from) else {
        println!("cargo:warning=CARGO_MANIFEST_DIR is not set");
        return ExitCode::FAILURE;
    };
    let workspace = manifest_dir.parent().unwrap_or(&manifest_dir).to_path_buf();
    for watched in [
        "filter/core/src",
        "filter/core/Cargo.toml",
        "filter/wasm/src",
        "filter/wasm/Cargo.toml",
        "Cargo.lock",
    ] {
        println!(
            "cargo:rerun-if-changed={}",
            workspace.join(watched).display()
        );
    }

    let target_dir = workspace.join("target").join("filter-wasm");
    match build_filter(&workspace, &target_dir) {
        Ok(artifact) => {
            println!("cargo:rustc-env=OIDC_FILTER_WASM={}", artifact.display());
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("error: could not build the embedded OIDC filter: {message}");
            eprintln!(
                "hint: run `rustup target add {WASM_TARGET}`, or set OIDC_FILTER_WASM_PATH to a prebuilt {FILTER_ARTIFACT}"
            );
            println!("cargo:warning=could not build the embedded OIDC filter: {message}");
            ExitCode::FAILURE
        }
    }
}

fn build_filter(workspace: &Path, target_dir: &Path) -> Result<PathBuf, String> {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(workspace)
        .args([
            "build",
            "--release",
            "-p",
            FILTER_PACKAGE,
            "--target",
            WASM_TARGET,
        ])
        .arg("--target-dir")
        .arg(target_dir);
    // The outer build's flags and wrappers (e.g. clippy-driver) belong to the host build, not the guest.
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "CLIPPY_ARGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
    ] {
        command.env_remove(var);
    }
    // So are profile overrides (`CARGO_PROFILE_RELEASE_LTO=thin` for a quicker host build, say):
    // the embedded module is always the workspace's release profile. A custom module is embedded
    // through OIDC_FILTER_WASM_PATH instead.
    for (var, _) in env::vars_os() {
        if var.to_string_lossy().starts_with("CARGO_PROFILE_") {
            command.env_remove(var);
        }
    }
    let status = command
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err(format!(
            "`cargo build --release -p {FILTER_PACKAGE} --target {WASM_TARGET}` failed ({status})"
        ));
    }
    let artifact = target_dir
        .join(WASM_TARGET)
        .join("release")
        .join(FILTER_ARTIFACT);
    if artifact.is_file() {
        Ok(artifact)
    } else {
        Err(format!("{} was not produced", artifact.display()))
    }
}
