//! The README's configuration examples are real: each parses, and each is the configuration of an IdP
//! profile that the golden cases exercise.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use oidc_filter_core::config::Config;
use serde_json::Value;

fn json_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        match (&mut current, line.trim()) {
            (None, "```json") => current = Some(String::new()),
            (Some(block), "```") => {
                blocks.push(std::mem::take(block));
                current = None;
            }
            (Some(block), _) => {
                block.push_str(line);
                block.push('\n');
            }
            (None, _) => {}
        }
    }
    blocks
}

#[test]
fn every_configuration_example_in_the_readme_parses_and_is_a_tested_profile() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let profiles_dir = oidc_testdata::dir().join("idp");
    let profiles: Vec<Value> = std::fs::read_dir(&profiles_dir)
        .unwrap()
        .map(|e| {
            let path = e.unwrap().path().join("config.json");
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
        })
        .collect();
    let examples: Vec<String> = json_blocks(&readme)
        .into_iter()
        .filter(|b| b.contains("\"providers\""))
        .collect();
    assert!(examples.len() >= 7, "found {} examples", examples.len());
    for example in &examples {
        if let Err(e) = Config::from_json(example.as_bytes()) {
            panic!("README example refused: {e}\n{example}");
        }
        let value: Value = serde_json::from_str(example).unwrap();
        assert!(
            profiles.contains(&value),
            "README example is not an IdP profile of testdata/idp:\n{example}"
        );
    }
}
