//! The boundaries of the workspace that Cargo's dependency graph cannot state by itself.
//!
//! Cargo already keeps the Cloud client and the simulator free of Kubernetes (they do not depend
//! on kube); these tests keep it that way, and hold what one package cannot: the operator package
//! depends on the simulator for its `simulator` sub-command only, so nothing but `src/main.rs` may
//! use it, and the CRD types know no HTTP.

use std::path::{Path, PathBuf};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The `.rs` files below `dir`.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

/// The names of the dependencies in one `[...dependencies]` table of a manifest.
fn dependencies(manifest: &Path, table: &str) -> Vec<String> {
    let text = std::fs::read_to_string(manifest).unwrap();
    let header = format!("[{table}]");
    text.lines()
        .skip_while(|line| line.trim() != header)
        .skip(1)
        .take_while(|line| !line.trim_start().starts_with('['))
        .filter(|line| !line.trim_start().starts_with('#'))
        .filter_map(|line| line.split(['=', '.']).next().map(str::trim).filter(|name| !name.is_empty()).map(str::to_string))
        .collect()
}

#[test]
fn the_cloud_client_and_the_simulator_depend_on_nothing_of_kubernetes() {
    for krate in ["cloud", "simulator"] {
        let manifest = root().join("crates").join(krate).join("Cargo.toml");
        let deps = dependencies(&manifest, "dependencies");
        assert!(!deps.is_empty(), "no dependencies read from {}", manifest.display());
        for kubernetes in ["kube", "k8s-openapi", "schemars", "kube-lease-manager", "crdb-cloud-operator"] {
            assert!(!deps.iter().any(|d| d == kubernetes), "crates/{krate} depends on {kubernetes}");
        }
    }
    // The simulator serves the cloud crate's models; the cloud crate knows nothing of the simulator.
    let cloud = dependencies(&root().join("crates/cloud/Cargo.toml"), "dependencies");
    assert!(!cloud.iter().any(|d| d == "crdb-cloud-simulator"));
}

#[test]
fn only_the_binary_uses_the_simulator() {
    for file in rust_files(&root().join("src")) {
        if file.ends_with("src/main.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(!text.contains("crdb_cloud_simulator"), "{} uses the simulator; only the `simulator` sub-command may", file.display());
    }
}

#[test]
fn crd_types_know_no_http_and_no_cloud_client() {
    for file in rust_files(&root().join("src/api")) {
        let text = std::fs::read_to_string(&file).unwrap();
        for word in ["reqwest", "axum", "crate::cloud", "crdb_cloud", "crate::controller"] {
            assert!(!text.contains(word), "{} mentions {word}", file.display());
        }
    }
}
