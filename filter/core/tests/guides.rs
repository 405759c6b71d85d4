//! The IdP guides in docs/guides/ show only tested configurations: every filter configuration in
//! them (a ```json block, or the `filter.config` of an `oidc-host` gateway.yaml block) parses with
//! the filter's parser and is an IdP profile of testdata/idp/ that golden cases exercise; every
//! gateway.yaml defines the callout clusters its providers name; every reason code a guide
//! explains exists; and every relative link points at a file of the repository.
//! host/tests/guides.rs parses the same gateway.yaml blocks with the host's own parser.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use oidc_filter_core::config::Config;
use oidc_filter_core::error::AuthError;
use serde_json::Value;

const GUIDES: [&str; 4] = ["entra-id.md", "keycloak.md", "okta.md", "cognito.md"];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Fenced blocks of one language (```json, ```yaml), with the line each starts on.
fn blocks(markdown: &str, language: &str) -> Vec<(usize, String)> {
    let open = format!("```{language}");
    let mut found = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (number, line) in markdown.lines().enumerate() {
        let trimmed = line.trim();
        match &mut current {
            None if trimmed == open => current = Some((number + 1, String::new())),
            Some(_) if trimmed == "```" => found.extend(current.take()),
            Some((_, block)) => {
                block.push_str(line);
                block.push('\n');
            }
            None => {}
        }
    }
    found
}

fn profiles() -> Vec<(String, Value)> {
    let dir = oidc_testdata::dir().join("idp");
    let mut profiles: Vec<(String, Value)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(path.join("config.json")).unwrap();
            (name, serde_json::from_str(&text).unwrap())
        })
        .collect();
    profiles.sort_by(|a, b| a.0.cmp(&b.0));
    profiles
}

/// Parses a filter configuration shown in a guide and names the profile it is.
fn check_filter_configuration(where_: &str, document: &[u8]) -> String {
    if let Err(e) = Config::from_json(document) {
        panic!("{where_}: the filter refuses the configuration: {e}");
    }
    let value: Value = serde_json::from_slice(document).unwrap();
    let Some((name, _)) = profiles().into_iter().find(|(_, p)| *p == value) else {
        panic!("{where_}: not the config.json of any testdata/idp profile");
    };
    let cases = oidc_testdata::golden::cases();
    let exercised = |status: u16| {
        cases
            .iter()
            .any(|c| c.profile == name && c.expect.status == status)
    };
    assert!(
        exercised(200) && (exercised(401) || exercised(403)),
        "{where_}: profile {name} lacks golden cases that accept and refuse"
    );
    name
}

/// The `filter.config` of a gateway.yaml block as JSON bytes: a YAML mapping is re-encoded (as
/// `oidc-host` does), a string is kept as the JSON text it holds.
fn filter_config_of(yaml: &serde_yaml::Value) -> Vec<u8> {
    match &yaml["filter"]["config"] {
        serde_yaml::Value::String(text) => text.clone().into_bytes(),
        mapping @ serde_yaml::Value::Mapping(_) => serde_json::to_vec(mapping).unwrap(),
        other => panic!("filter.config is neither a mapping nor a JSON string: {other:?}"),
    }
}

fn read_guide(name: &str) -> String {
    let path = repo().join("docs/guides").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// What one guide shows, checked: the profiles of its JSON blocks and of its gateway.yaml blocks.
fn check_guide(name: &str, text: &str) -> (Vec<String>, Vec<String>) {
    let mut json_profiles = Vec::new();
    for (line, block) in blocks(text, "json") {
        if block.contains("\"providers\"") {
            let where_ = format!("docs/guides/{name}:{line}");
            json_profiles.push(check_filter_configuration(&where_, block.as_bytes()));
        }
    }
    let mut host_profiles = Vec::new();
    for (line, block) in blocks(text, "yaml") {
        let where_ = format!("docs/guides/{name}:{line}");
        let yaml: serde_yaml::Value =
            serde_yaml::from_str(&block).unwrap_or_else(|e| panic!("{where_}: not YAML: {e}"));
        if yaml.get("filter").is_none() {
            continue;
        }
        let document = filter_config_of(&yaml);
        host_profiles.push(check_filter_configuration(&where_, &document));
        // oidc-host sends a callout to the cluster of that name, else to `cluster` read as
        // host:port; a name like `idp` must therefore be defined under `clusters`.
        let config = Config::from_json(&document).unwrap();
        for provider in &config.providers {
            if let Some(cluster) = &provider.cluster {
                assert!(
                    yaml["clusters"].get(cluster.as_str()).is_some(),
                    "{where_}: provider {} names cluster {cluster:?}, which clusters: lacks",
                    provider.name
                );
            }
        }
    }
    (json_profiles, host_profiles)
}

#[test]
fn every_configuration_in_the_guides_is_a_tested_profile() {
    let expected = [
        (
            "entra-id.md",
            &["entra-v2", "entra-v1", "entra-multitenant"][..],
        ),
        ("keycloak.md", &["keycloak"][..]),
        ("okta.md", &["okta"][..]),
        ("cognito.md", &["cognito"][..]),
    ];
    for (name, wanted) in expected {
        let (json_profiles, host_profiles) = check_guide(name, &read_guide(name));
        for profile in wanted {
            assert!(
                json_profiles.iter().any(|p| p == profile),
                "docs/guides/{name}: no configuration of profile {profile}"
            );
        }
        assert!(
            !host_profiles.is_empty(),
            "docs/guides/{name}: no oidc-host gateway.yaml"
        );
    }
}

#[test]
fn a_configuration_that_differs_from_its_profile_is_refused() {
    let text = read_guide("keycloak.md");
    // An edit the parser accepts but no golden case exercises.
    let edited = text.replacen("\"orders-api\"]", "\"orders-api\", \"account\"]", 1);
    assert_ne!(edited, text);
    let result = std::panic::catch_unwind(|| check_guide("keycloak.md", &edited));
    assert!(result.is_err(), "an untested configuration was accepted");
    // A misspelt field.
    let edited = text.replacen("\"audiences\"", "\"audience\"", 1);
    assert_ne!(edited, text);
    let result = std::panic::catch_unwind(|| check_guide("keycloak.md", &edited));
    assert!(result.is_err(), "a misspelt field was accepted");
    // A gateway.yaml whose cluster is missing.
    let edited = text.replacen("\n  idp:", "\n  keycloak:", 1);
    assert_ne!(edited, text);
    let result = std::panic::catch_unwind(|| check_guide("keycloak.md", &edited));
    assert!(
        result.is_err(),
        "a gateway.yaml without the provider's cluster was accepted"
    );
}

#[test]
fn the_reason_codes_the_guides_explain_exist() {
    let mut known: Vec<&str> = AuthError::ALL_CODES.to_vec();
    known.extend(["ok", "anonymous"]);
    for name in GUIDES {
        let text = read_guide(name);
        let mut in_reason_table = false;
        let mut explained = 0;
        for line in text.lines() {
            if line.starts_with("| reason |") {
                in_reason_table = true;
                continue;
            }
            if !line.starts_with('|') {
                in_reason_table = false;
                continue;
            }
            if in_reason_table && line.starts_with("| `") {
                let code = line[3..].split('`').next().unwrap();
                assert!(
                    known.contains(&code),
                    "docs/guides/{name}: unknown reason code {code}"
                );
                explained += 1;
            }
        }
        assert!(explained >= 5, "docs/guides/{name}: no reason table");
    }
}

#[test]
fn relative_links_in_the_guides_point_at_files() {
    for name in GUIDES.iter().copied().chain(["README.md"]) {
        let text = read_guide(name);
        for piece in text.split("](").skip(1) {
            let target = piece.split(')').next().unwrap();
            let target = target.split('#').next().unwrap();
            if target.is_empty() || target.contains("://") {
                continue;
            }
            let path = repo().join("docs/guides").join(target);
            assert!(path.exists(), "docs/guides/{name}: broken link {target}");
        }
    }
}
