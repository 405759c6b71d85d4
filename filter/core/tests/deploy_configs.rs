//! The filter configurations embedded in the deployment files users copy (envoy/, kong/) are
//! accepted by the filter's own parser, name callout targets the way each host needs them, and
//! are the IdP profiles in testdata/idp/ that the golden cases exercise, apart from `cluster`.
//! envoy/check.py checks the Envoy files against Envoy's own API.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use oidc_filter_core::config::Config;
use serde_json::Value;
use serde_yaml::Value as Yaml;
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn yaml_documents(text: &str) -> Vec<Yaml> {
    serde_yaml::Deserializer::from_str(text)
        .map(|doc| serde::Deserialize::deserialize(doc).unwrap())
        .collect()
}

fn seq(value: &Yaml) -> &[Yaml] {
    value.as_sequence().map(Vec::as_slice).unwrap_or(&[])
}

/// The JSON text of every `envoy.filters.http.wasm` filter's StringValue configuration.
fn envoy_filter_configurations(text: &str) -> Vec<String> {
    let doc: Yaml = serde_yaml::from_str(text).unwrap();
    let mut found = Vec::new();
    for listener in seq(&doc["static_resources"]["listeners"]) {
        for chain in seq(&listener["filter_chains"]) {
            for net_filter in seq(&chain["filters"]) {
                for http_filter in seq(&net_filter["typed_config"]["http_filters"]) {
                    if http_filter["name"].as_str() != Some("envoy.filters.http.wasm") {
                        continue;
                    }
                    let configuration = &http_filter["typed_config"]["config"]["configuration"];
                    assert_eq!(
                        configuration["@type"].as_str(),
                        Some("type.googleapis.com/google.protobuf.StringValue")
                    );
                    found.push(configuration["value"].as_str().unwrap().to_string());
                }
            }
        }
    }
    found
}

fn envoy_cluster_names(text: &str) -> Vec<String> {
    let doc: Yaml = serde_yaml::from_str(text).unwrap();
    seq(&doc["static_resources"]["clusters"])
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect()
}

/// Parses `document` with the filter's parser and checks it is `profile` with `cluster` set to
/// `cluster` in every provider.
fn check_document(where_: &str, document: &[u8], profile: &str, cluster: &str) -> Config {
    let config = Config::from_json(document)
        .unwrap_or_else(|e| panic!("{where_}: the filter refuses its configuration: {e}"));
    for provider in &config.providers {
        assert_eq!(
            provider.cluster.as_deref(),
            Some(cluster),
            "{where_}: {}",
            provider.name
        );
    }
    let mut expected: Value = serde_json::from_str(&read(profile)).unwrap();
    for provider in expected["providers"].as_array_mut().unwrap() {
        provider["cluster"] = Value::String(cluster.to_string());
    }
    let actual: Value = serde_json::from_slice(document).unwrap();
    assert_eq!(
        actual, expected,
        "{where_} is not {profile} (apart from `cluster`)"
    );
    config
}

fn check_envoy_file(path: &str, profile: &str, cluster: &str) {
    let text = read(path);
    let documents = envoy_filter_configurations(&text);
    assert_eq!(documents.len(), 1, "{path}: one oidc filter expected");
    check_document(path, documents[0].as_bytes(), profile, cluster);
    assert!(
        envoy_cluster_names(&text).iter().any(|c| c == cluster),
        "{path}: no cluster named {cluster}"
    );
}

#[test]
fn envoy_entra_id_configuration_is_accepted_and_is_the_entra_profile() {
    check_envoy_file(
        "envoy/entra-id/envoy.yaml",
        "testdata/idp/entra-v2/config.json",
        "entra_id",
    );
}

#[test]
fn envoy_keycloak_configuration_is_accepted_and_is_the_keycloak_profile() {
    check_envoy_file(
        "envoy/keycloak/envoy.yaml",
        "testdata/idp/keycloak/config.json",
        "keycloak",
    );
}

#[test]
fn istio_plugin_config_is_accepted_and_names_the_service_entry_cluster() {
    let path = "envoy/istio/wasmplugin.yaml";
    let documents = yaml_documents(&read(path));
    let kind = |k: &str| {
        documents
            .iter()
            .find(|d| d["kind"].as_str() == Some(k))
            .unwrap()
    };
    let plugin = kind("WasmPlugin");
    assert_eq!(
        plugin["apiVersion"].as_str(),
        Some("extensions.istio.io/v1alpha1")
    );
    let service_entry = kind("ServiceEntry");
    let host = service_entry["spec"]["hosts"][0].as_str().unwrap();
    let port = service_entry["spec"]["ports"][0]["number"]
        .as_u64()
        .unwrap();
    // Istio names the cluster of a ServiceEntry port `outbound|<port>|<subset>|<host>`.
    let cluster = format!("outbound|{port}||{host}");
    assert_eq!(kind("DestinationRule")["spec"]["host"].as_str(), Some(host));
    let document = serde_json::to_vec(&plugin["spec"]["pluginConfig"]).unwrap();
    let config = check_document(
        path,
        &document,
        "testdata/idp/entra-v2/config.json",
        &cluster,
    );
    let issuer = config.providers[0].issuer.as_deref().unwrap();
    assert!(
        issuer.starts_with(&format!("https://{host}/")),
        "{issuer} is not on {host}"
    );
}

#[test]
fn kong_filter_chain_configuration_is_accepted_and_targets_host_and_port() {
    let path = "kong/kong.yml";
    let doc: Yaml = serde_yaml::from_str(&read(path)).unwrap();
    assert_eq!(doc["_format_version"].as_str(), Some("3.0"));
    let service = &doc["services"][0];
    assert!(
        !seq(&service["routes"]).is_empty(),
        "{path}: the service needs a route"
    );
    let filter = &service["filter_chains"][0]["filters"][0];
    // Kong names a filter after its module file in wasm_filters_path, and reads
    // `<name>.meta.json` beside it.
    assert_eq!(filter["name"].as_str(), Some("oidc_filter"));
    assert!(repo().join("kong/oidc_filter.meta.json").exists());
    // With a config_schema in the meta file, `config` is a JSON object, not a string.
    assert!(
        filter["config"].is_mapping(),
        "{path}: config must be a JSON object"
    );
    let document = serde_json::to_vec(&filter["config"]).unwrap();
    // ngx_wasm_module dispatches to `host:port`; the filter asks for TLS with `:scheme: https`.
    let config = check_document(
        path,
        &document,
        "testdata/idp/entra-v2/config.json",
        "login.microsoftonline.com:443",
    );
    let issuer = config.providers[0].issuer.as_deref().unwrap();
    assert!(issuer.starts_with("https://login.microsoftonline.com/"));
}

#[test]
fn a_misspelt_field_in_a_deployment_file_is_refused() {
    // The checks above would catch a typo users copy: the parser refuses unknown fields.
    let text = read("envoy/entra-id/envoy.yaml").replacen("\"audiences\"", "\"audience\"", 1);
    let document = &envoy_filter_configurations(&text)[0];
    let error = Config::from_json(document.as_bytes()).unwrap_err();
    assert!(error.to_string().contains("providers[0]"), "{error}");

    let text = read("kong/kong.yml").replacen("\"rules\"", "\"rule\"", 1);
    let doc: Yaml = serde_yaml::from_str(&text).unwrap();
    let config = &doc["services"][0]["filter_chains"][0]["filters"][0]["config"];
    let document = serde_json::to_vec(config).unwrap();
    assert!(Config::from_json(&document).is_err());
}
