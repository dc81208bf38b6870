//! The committed CRD YAML under crds/ must be exactly what the Rust types generate, so a change to
//! a type cannot ship with a stale schema. Regenerate with `make crds`.

use crdb_cloud_operator::controller;

#[test]
fn committed_crds_match_the_rust_types() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("crds/crdbcloud.io.yaml");
    let committed = std::fs::read_to_string(&path).expect("crds/crdbcloud.io.yaml exists");
    let generated = controller::registry::crds_yaml();
    assert!(
        committed == generated,
        "crds/crdbcloud.io.yaml is stale: run `make crds` and commit the result"
    );
}

#[test]
fn every_field_of_every_crd_has_a_description() {
    // `kubectl explain` should read well: walk every schema and collect fields without a description.
    fn walk(path: &str, schema: &serde_json::Value, missing: &mut Vec<String>) {
        if let Some(props) = schema["properties"].as_object() {
            for (name, sub) in props {
                let here = format!("{path}.{name}");
                if sub["description"].as_str().is_none_or(str::is_empty) {
                    missing.push(here.clone());
                }
                walk(&here, sub, missing);
            }
        }
        if schema["items"].is_object() {
            walk(&format!("{path}[]"), &schema["items"], missing);
        }
    }
    let mut missing = Vec::new();
    for crd in controller::registry::crds() {
        let crd = serde_json::to_value(&crd).unwrap();
        for version in crd["spec"]["versions"].as_array().unwrap() {
            let spec = &version["schema"]["openAPIV3Schema"]["properties"]["spec"];
            walk(&format!("{}.spec", crd["spec"]["names"]["kind"].as_str().unwrap()), spec, &mut missing);
        }
    }
    assert!(missing.is_empty(), "spec fields without a description: {missing:#?}");
}
