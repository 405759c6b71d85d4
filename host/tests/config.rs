//! Host config parsing: defaults, both filter-config spellings, and errors that name the field path.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use oidc_host::config::{ConfigError, HostConfig};

fn error_of(yaml: &str) -> (String, String) {
    match HostConfig::parse(yaml) {
        Err(ConfigError::Invalid { path, reason }) => (path, reason),
        other => panic!("expected an invalid-config error, got {other:?}"),
    }
}

#[test]
fn applies_defaults_to_a_minimal_config() {
    let config = HostConfig::parse("upstream: http://127.0.0.1:9000\n").unwrap();
    assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
    assert!(config.workers.is_none());
    assert!(config.worker_count() >= 1);
    assert!(config.admin.is_none());
    assert!(config.filter.wasm.is_none());
    assert_eq!(config.filter.plugin_name(), "oidc");
    assert_eq!(
        config.upstream_endpoint().unwrap().authority(),
        "127.0.0.1:9000"
    );
}

#[test]
fn serializes_a_yaml_mapping_filter_config_to_json() {
    let config = HostConfig::parse(
        "upstream: http://127.0.0.1:9000\nfilter:\n  config:\n    providers:\n      - name: idp\n        audiences: [api]\n",
    )
    .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&config.filter.config.0).unwrap();
    assert_eq!(json["providers"][0]["name"], "idp");
    assert_eq!(json["providers"][0]["audiences"][0], "api");
}

#[test]
fn keeps_a_json_string_filter_config_byte_for_byte() {
    let document = r#"{"providers": [ {"name":"idp"} ]}"#;
    let yaml = format!("upstream: http://127.0.0.1:9000\nfilter:\n  config: '{document}'\n");
    let config = HostConfig::parse(&yaml).unwrap();
    assert_eq!(config.filter.config.0, document.as_bytes());
}

#[test]
fn names_filter_config_when_the_json_string_is_malformed() {
    let (path, reason) =
        error_of("upstream: http://127.0.0.1:9000\nfilter:\n  config: '{\"providers\": ['\n");
    assert_eq!(path, "filter.config");
    assert!(reason.contains("JSON"), "{reason}");
}

#[test]
fn rejects_an_unknown_top_level_field_by_name() {
    let (path, reason) = error_of("upstream: http://127.0.0.1:9000\nlisten_addr: 127.0.0.1:1\n");
    assert_eq!(path, "listen_addr");
    assert!(reason.contains("unknown field"), "{reason}");
}

#[test]
fn names_the_path_of_an_unknown_cluster_field() {
    let (path, reason) = error_of(
        "upstream: http://127.0.0.1:9000\nclusters:\n  idp:\n    url: https://idp.example\n    timeout: 5\n",
    );
    assert_eq!(path, "clusters.idp.timeout");
    assert!(reason.contains("unknown field"), "{reason}");
}

#[test]
fn names_the_path_of_a_mistyped_cluster_timeout() {
    let (path, _) = error_of(
        "upstream: http://127.0.0.1:9000\nclusters:\n  idp:\n    url: https://idp.example\n    timeout_ms: soon\n",
    );
    assert_eq!(path, "clusters.idp.timeout_ms");
}

#[test]
fn names_a_cluster_url_without_scheme() {
    let (path, _) =
        error_of("upstream: http://127.0.0.1:9000\nclusters:\n  idp: idp.example:443\n");
    assert_eq!(path, "clusters.idp.url");
}

#[test]
fn accepts_clusters_as_urls_or_mappings() {
    let config = HostConfig::parse(
        "upstream: http://127.0.0.1:9000\nclusters:\n  a: http://127.0.0.1:1\n  b:\n    url: https://idp.example\n    timeout_ms: 250\n",
    )
    .unwrap();
    assert_eq!(config.clusters["a"].url, "http://127.0.0.1:1");
    assert_eq!(config.clusters["b"].timeout_ms, Some(250));
}

#[test]
fn refuses_an_https_upstream_with_the_field_named() {
    let (path, _) = error_of("upstream: https://127.0.0.1:9000\n");
    assert_eq!(path, "upstream");
}

#[test]
fn refuses_zero_workers() {
    let (path, _) = error_of("upstream: http://127.0.0.1:9000\nworkers: 0\n");
    assert_eq!(path, "workers");
}

#[test]
fn names_an_unknown_limit() {
    let (path, reason) = error_of("upstream: http://127.0.0.1:9000\nlimits:\n  max_headers: 1\n");
    assert_eq!(path, "limits.max_headers");
    assert!(reason.contains("unknown field"), "{reason}");
}

#[test]
fn requires_the_upstream() {
    let (_, reason) = error_of("listen: 127.0.0.1:8080\n");
    assert!(reason.contains("upstream"), "{reason}");
}

#[test]
fn loads_paths_relative_to_the_config_file() {
    let dir = std::env::temp_dir().join(format!("oidc-host-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("gateway.yaml");
    std::fs::write(
        &file,
        "upstream: http://127.0.0.1:9000\nfilter:\n  wasm: filter.wasm\n",
    )
    .unwrap();
    let config = HostConfig::load(&file).unwrap();
    assert_eq!(
        config.filter.wasm.as_deref(),
        Some(dir.join("filter.wasm").as_path())
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn parses_the_example_gateway_config() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("gateway.example.yaml");
    let config = HostConfig::load(&path).unwrap();
    assert_eq!(config.clusters["idp"].url, "https://idp.example.com");
    assert!(config.admin.is_some());
    let filter: serde_json::Value = serde_json::from_slice(&config.filter.config.0).unwrap();
    assert_eq!(filter["providers"][0]["cluster"], "idp");
}
