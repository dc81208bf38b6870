//! The images the node runs, written by `tests/node/oci-image.sh` (no container engine, no
//! registry): the operator's, from the operator binary, and the pod sandbox's `pause`. Also reads
//! the Dockerfile's final stage and an archive's image config, so a test can keep them equal.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use serde_json::Value;

use super::Node;

/// The sandbox image the node's containerd uses (built locally, never pulled).
pub const PAUSE_IMAGE: &str = "crdb-testenv.local/pause:v1";
/// Repository and tag of the operator image the tests import (chart values `image.repository`
/// and `image.tag`; `image.pullPolicy: Never`).
pub const OPERATOR_REPOSITORY: &str = "crdb-testenv.local/crdb-cloud-operator";
pub const OPERATOR_TAG: &str = "e2e";

fn script() -> PathBuf {
    crate::repo_root().join("tests/node/oci-image.sh")
}

/// Runs `tests/node/oci-image.sh KIND BINARY ARCHIVE REFERENCE`; the manifest digest it prints.
pub fn write_image(kind: &str, binary: &Path, archive: &Path, reference: &str) -> Result<String, String> {
    let out = Command::new("bash")
        .arg(script())
        .args([kind, &binary.display().to_string(), &archive.display().to_string(), reference])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("run oci-image.sh: {e}"))?;
    if !out.status.success() {
        return Err(format!("oci-image.sh {kind} failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr)));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

pub(crate) fn write_pause_image(binary: &Path, archive: &Path) -> Result<(), String> {
    write_image("pause", binary, archive, PAUSE_IMAGE).map(|_| ())
}

/// The operator image reference imported into the node.
pub fn operator_image() -> String {
    format!("{OPERATOR_REPOSITORY}:{OPERATOR_TAG}")
}

impl Node {
    /// Writes the operator's image from [`crate::operator_binary`] (the debug build `cargo test`
    /// has just made, unless `CRDB_OPERATOR_BIN` names another) and imports it, once per node.
    /// Returns its reference, [`operator_image`].
    pub fn operator_image(&self) -> String {
        static DONE: OnceLock<Result<(), String>> = OnceLock::new();
        let result = DONE.get_or_init(|| {
            let archive = self.layout.dir.join("images/operator.tar");
            write_image("operator", &crate::operator_binary(), &archive, &operator_image())?;
            self.import_image(&archive, &operator_image())
        });
        if let Err(e) = result {
            panic!("the operator image could not be built and imported: {e}");
        }
        operator_image()
    }
}

/// One file of an image archive (a tar written by `oci-image.sh`), e.g. `index.json`.
pub fn archive_file(archive: &Path, name: &str) -> Result<Vec<u8>, String> {
    let out = Command::new("tar")
        .arg("-xOf")
        .arg(archive)
        .arg(format!("./{name}"))
        .output()
        .map_err(|e| format!("run tar: {e}"))?;
    if !out.status.success() {
        return Err(format!("{} has no {name}: {}", archive.display(), String::from_utf8_lossy(&out.stderr)));
    }
    Ok(out.stdout)
}

/// The image config (`config` object of the config blob) of a single-image archive, and the
/// index entry's annotations.
pub fn archive_image_config(archive: &Path) -> Result<(Value, Value), String> {
    let json = |bytes: Vec<u8>| serde_json::from_slice::<Value>(&bytes).map_err(|e| format!("invalid JSON in {}: {e}", archive.display()));
    let blob = |digest: &str| format!("blobs/sha256/{}", digest.trim_start_matches("sha256:"));
    let index = json(archive_file(archive, "index.json")?)?;
    let entry = &index["manifests"][0];
    let manifest = json(archive_file(archive, &blob(entry["digest"].as_str().unwrap_or_default()))?)?;
    let config = json(archive_file(archive, &blob(manifest["config"]["digest"].as_str().unwrap_or_default()))?)?;
    Ok((config, entry["annotations"].clone()))
}

/// What the final stage of a Dockerfile sets about the image's runtime: the instructions after
/// the last `FROM`, with line continuations joined.
#[derive(Debug, Default, PartialEq)]
pub struct FinalStage {
    pub from: String,
    pub user: Option<String>,
    pub workdir: Option<String>,
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    pub expose: Vec<String>,
    pub labels: BTreeMap<String, String>,
    pub env: BTreeMap<String, String>,
    /// `COPY` destinations.
    pub copies: Vec<String>,
}

/// Parses the instructions of a Dockerfile's final stage (the subset this project uses: FROM,
/// USER, WORKDIR, ENTRYPOINT/CMD in exec form, EXPOSE, LABEL and ENV `k=v` pairs, COPY).
pub fn dockerfile_final_stage(text: &str) -> Result<FinalStage, String> {
    let mut logical = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if current.is_empty() && (trimmed.is_empty() || trimmed.starts_with('#')) {
            continue;
        }
        if let Some(body) = trimmed.strip_suffix('\\') {
            current.push_str(body);
            current.push(' ');
        } else if !trimmed.starts_with('#') {
            current.push_str(trimmed);
            logical.push(std::mem::take(&mut current));
        }
    }
    let mut stage = FinalStage::default();
    for line in logical {
        let (instruction, rest) = line.split_once(char::is_whitespace).unwrap_or((line.as_str(), ""));
        let rest = rest.trim();
        match instruction.to_ascii_uppercase().as_str() {
            "FROM" => {
                stage = FinalStage { from: rest.split_whitespace().next().unwrap_or_default().to_string(), ..Default::default() };
            }
            "USER" => stage.user = Some(rest.to_string()),
            "WORKDIR" => stage.workdir = Some(rest.to_string()),
            "ENTRYPOINT" => stage.entrypoint = Some(exec_form(rest)?),
            "CMD" => stage.cmd = Some(exec_form(rest)?),
            "EXPOSE" => stage.expose.extend(rest.split_whitespace().map(|p| if p.contains('/') { p.to_string() } else { format!("{p}/tcp") })),
            "LABEL" => stage.labels.extend(pairs(rest)?),
            "ENV" => stage.env.extend(pairs(rest)?),
            "COPY" => stage.copies.push(rest.split_whitespace().last().unwrap_or_default().to_string()),
            _ => {}
        }
    }
    if stage.from.is_empty() {
        return Err("the Dockerfile has no FROM".into());
    }
    Ok(stage)
}

fn exec_form(text: &str) -> Result<Vec<String>, String> {
    serde_json::from_str(text).map_err(|e| format!("only the exec (JSON) form is supported, got {text:?}: {e}"))
}

/// `k=v` pairs, values optionally double-quoted (no escapes inside).
fn pairs(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        let (key, after) = rest.split_once('=').ok_or_else(|| format!("expected key=value in {text:?}"))?;
        let (value, after) = if let Some(quoted) = after.strip_prefix('"') {
            let end = quoted.find('"').ok_or_else(|| format!("unterminated quote in {text:?}"))?;
            (&quoted[..end], &quoted[end + 1..])
        } else {
            after.split_once(char::is_whitespace).unwrap_or((after, ""))
        };
        out.push((key.trim().to_string(), value.to_string()));
        rest = after.trim();
    }
    Ok(out)
}
