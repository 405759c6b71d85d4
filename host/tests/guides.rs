//! Every `oidc-host` configuration shown in docs/guides/ (a ```yaml block with `filter:`) is
//! accepted by the host's own parser, carries a filter configuration that is an IdP profile of
//! testdata/idp/, and defines the clusters that configuration's providers name.
//! filter/core/tests/guides.rs checks the guides' filter configurations with the filter's parser.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use oidc_host::config::HostConfig;
use serde_json::Value;

fn yaml_blocks(markdown: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (number, line) in markdown.lines().enumerate() {
        match (&mut current, line.trim()) {
            (None, "```yaml") => current = Some((number + 1, String::new())),
            (Some(_), "```") => found.extend(current.take()),
            (Some((_, block)), _) => {
                block.push_str(line);
                block.push('\n');
            }
            (None, _) => {}
        }
    }
    found
}

fn profiles() -> Vec<Value> {
    std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/idp"))
        .unwrap()
        .map(|e| {
            let path = e.unwrap().path().join("config.json");
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
        })
        .collect()
}

fn check(where_: &str, yaml: &str) {
    let config = HostConfig::parse(yaml).unwrap_or_else(|e| panic!("{where_}: {e}"));
    let filter: Value = serde_json::from_slice(&config.filter.config.0)
        .unwrap_or_else(|e| panic!("{where_}: filter.config: {e}"));
    assert!(
        profiles().contains(&filter),
        "{where_}: filter.config is not an IdP profile of testdata/idp"
    );
    for provider in filter["providers"].as_array().unwrap() {
        if let Some(cluster) = provider["cluster"].as_str() {
            assert!(
                config.clusters.contains_key(cluster),
                "{where_}: no cluster {cluster}"
            );
        }
    }
}

#[test]
fn every_gateway_yaml_in_the_guides_is_accepted_by_the_host() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/guides");
    let mut checked = 0;
    for name in ["entra-id.md", "keycloak.md", "okta.md", "cognito.md"] {
        let text = std::fs::read_to_string(dir.join(name)).unwrap();
        for (line, block) in yaml_blocks(&text) {
            if block.lines().any(|l| l.starts_with("filter:")) {
                check(&format!("docs/guides/{name}:{line}"), &block);
                checked += 1;
            }
        }
    }
    assert!(checked >= 4, "only {checked} gateway.yaml blocks");
}

#[test]
fn a_misspelt_host_field_in_a_guide_is_refused() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/guides");
    let text = std::fs::read_to_string(dir.join("okta.md")).unwrap();
    let (_, block) = yaml_blocks(&text)
        .into_iter()
        .find(|(_, b)| b.contains("filter:"))
        .unwrap();
    let misspelt = block.replacen("upstream:", "upstreams:", 1);
    assert!(HostConfig::parse(&misspelt).is_err());
}
