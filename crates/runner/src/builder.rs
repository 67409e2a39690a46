//! `careflow build`: makes sure the `wasm32-wasip2` target is installed and
//! runs each component's `[component.x.build] command`, as `spin build` does.

use std::process::Command;

use anyhow::{Context as _, bail};
use careflow_manifest::Manifest;

pub const WASM_TARGET: &str = "wasm32-wasip2";

/// Installs the Wasm target through rustup when it is missing.
pub fn ensure_wasm_target() -> anyhow::Result<()> {
    let installed = Command::new("rustc")
        .args(["--print", "target-libdir", "--target", WASM_TARGET])
        .output();
    if let Ok(out) = &installed {
        let dir = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if out.status.success() && std::path::Path::new(&dir).exists() {
            return Ok(());
        }
    }
    eprintln!("careflow: installing the {WASM_TARGET} target with rustup");
    let status = Command::new("rustup")
        .args(["target", "add", WASM_TARGET])
        .status()
        .context(
            "running rustup (install rustup, or add the wasm32-wasip2 target to your toolchain)",
        )?;
    if !status.success() {
        bail!("`rustup target add {WASM_TARGET}` failed");
    }
    Ok(())
}

/// Runs every component's build command once (components sharing the same
/// command and directory are built together).
pub fn build(manifest: &Manifest) -> anyhow::Result<()> {
    ensure_wasm_target()?;
    let mut done = std::collections::HashSet::new();
    for (id, component) in &manifest.components {
        let Some(build) = &component.build else {
            eprintln!(
                "careflow: component `{id}` has no build command; using {}",
                component.source.display()
            );
            continue;
        };
        if !done.insert((build.command.clone(), build.workdir.clone())) {
            continue;
        }
        eprintln!("careflow: building `{id}`: {}", build.command);
        let status = Command::new("sh")
            .arg("-c")
            .arg(&build.command)
            .current_dir(&build.workdir)
            .status()
            .with_context(|| format!("component `{id}`: running its build command"))?;
        if !status.success() {
            bail!(
                "component `{id}`: build command failed ({status}): {}",
                build.command
            );
        }
    }
    for (id, component) in &manifest.components {
        if !component.source.exists() {
            bail!(
                "component `{id}`: the build finished but {} does not exist; check `source` in {}",
                component.source.display(),
                manifest.file.display()
            );
        }
    }
    Ok(())
}
