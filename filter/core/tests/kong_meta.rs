//! kong/oidc_filter.meta.json carries the configuration's JSON Schema, generated from the serde
//! shapes the parser uses (`config::json_schema`). Kong validates `filter_chains` configurations
//! against it, so a stale file would refuse valid documents or admit misspelt ones.
//!
//! The committed file must equal the generated one; `UPDATE_SNAPSHOTS=1 cargo test -p
//! oidc-filter-core --features schema --test kong_meta` rewrites it.
#![cfg(feature = "schema")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use oidc_filter_core::config::{json_schema, Config, DRAFT_04};
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Objects with their keys in sorted order, whatever serde_json's map type is in this build.
fn sorted(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let mut out = Map::new();
            for key in keys {
                out.insert(key.clone(), sorted(&map[key]));
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

fn generated_meta_json() -> String {
    let meta = json!({ "config_schema": json_schema() });
    serde_json::to_string_pretty(&sorted(&meta)).unwrap() + "\n"
}

#[test]
fn committed_meta_json_is_the_generated_one() {
    let path = repo().join("kong/oidc_filter.meta.json");
    let generated = generated_meta_json();
    if std::env::var("UPDATE_SNAPSHOTS").as_deref() == Ok("1") {
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "kong/oidc_filter.meta.json differs from the schema generated from \
         filter/core/src/config/raw.rs; regenerate it with \
         `UPDATE_SNAPSHOTS=1 cargo test -p oidc-filter-core --features schema --test kong_meta`"
    );
}

// --- A draft 4 validator for the keywords the generated schema uses, so the tests below check
// --- documents the way Kong's validator would (type, enum, properties, required,
// --- additionalProperties, items, minimum, anyOf/oneOf).

fn type_matches(name: &str, value: &Value) -> bool {
    match name {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        other => panic!("schema uses an unknown type {other}"),
    }
}

fn validate(schema: &Value, value: &Value, path: &str) -> Result<(), String> {
    let schema = schema.as_object().expect("a draft 4 schema is an object");
    for keyword in schema.keys() {
        let known = [
            "$schema",
            "title",
            "description",
            "type",
            "enum",
            "properties",
            "required",
            "additionalProperties",
            "items",
            "minimum",
            "maximum",
            "anyOf",
            "oneOf",
            "default",
        ];
        assert!(
            known.contains(&keyword.as_str()),
            "unexpected keyword {keyword} at {path}"
        );
    }
    if let Some(ty) = schema.get("type") {
        let ok = match ty {
            Value::String(name) => type_matches(name, value),
            Value::Array(names) => names
                .iter()
                .any(|n| type_matches(n.as_str().unwrap(), value)),
            _ => panic!("bad type keyword"),
        };
        if !ok {
            return Err(format!("{path}: expected {ty}, got {value}"));
        }
    }
    if let Some(Value::Array(allowed)) = schema.get("enum") {
        if !allowed.contains(value) {
            return Err(format!("{path}: {value} is not one of {allowed:?}"));
        }
    }
    if let (Some(min), Some(n)) = (schema.get("minimum"), value.as_f64()) {
        if n < min.as_f64().unwrap() {
            return Err(format!("{path}: below minimum {min}"));
        }
    }
    for (keyword, exactly_one) in [("anyOf", false), ("oneOf", true)] {
        if let Some(Value::Array(options)) = schema.get(keyword) {
            let passing = options
                .iter()
                .filter(|s| validate(s, value, path).is_ok())
                .count();
            if passing == 0 || (exactly_one && passing > 1) {
                return Err(format!("{path}: {keyword} matched {passing} subschemas"));
            }
        }
    }
    if let Value::Object(object) = value {
        let properties = schema.get("properties").and_then(Value::as_object);
        if let Some(Value::Array(required)) = schema.get("required") {
            for name in required {
                if !object.contains_key(name.as_str().unwrap()) {
                    return Err(format!("{path}: missing required {name}"));
                }
            }
        }
        for (key, item) in object {
            let item_path = format!("{path}.{key}");
            match properties.and_then(|p| p.get(key)) {
                Some(sub) => validate(sub, item, &item_path)?,
                None => match schema.get("additionalProperties") {
                    Some(Value::Bool(false)) => {
                        return Err(format!("{item_path}: additional property not allowed"))
                    }
                    Some(sub @ Value::Object(_)) => validate(sub, item, &item_path)?,
                    _ => {}
                },
            }
        }
    }
    if let (Value::Array(items), Some(sub)) = (value, schema.get("items")) {
        for (i, item) in items.iter().enumerate() {
            validate(sub, item, &format!("{path}[{i}]"))?;
        }
    }
    Ok(())
}

fn entra_config() -> Value {
    let text = std::fs::read_to_string(repo().join("testdata/idp/entra-v2/config.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn walk<'a>(schema: &'a Value, out: &mut Vec<&'a Value>) {
    out.push(schema);
    match schema {
        Value::Object(map) => map.values().for_each(|v| walk(v, out)),
        Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
        _ => {}
    }
}

#[test]
fn schema_is_draft_4_without_references() {
    let schema = json_schema();
    assert_eq!(schema["$schema"], DRAFT_04);
    let mut nodes = Vec::new();
    walk(&schema, &mut nodes);
    for node in nodes {
        if let Value::Object(map) = node {
            for keyword in ["$ref", "$defs", "definitions", "const", "format"] {
                assert!(
                    !map.contains_key(keyword),
                    "draft 4 schema contains {keyword}"
                );
            }
        }
    }
}

#[test]
fn schema_refuses_unknown_fields_at_every_level() {
    let schema = json_schema();
    let objects = [
        &schema,
        &schema["properties"]["providers"]["items"],
        &schema["properties"]["token_sources"]["items"],
        &schema["properties"]["rules"]["items"],
    ];
    for object in objects {
        assert_eq!(object["additionalProperties"], json!(false), "in {object}");
    }
    assert_eq!(schema["required"], json!(["providers"]));
}

#[test]
fn every_profile_configuration_passes_the_schema() {
    let schema = json_schema();
    let mut checked = 0;
    for entry in std::fs::read_dir(repo().join("testdata/idp")).unwrap() {
        let path = entry.unwrap().path().join("config.json");
        if !path.exists() {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        Config::from_json(text.as_bytes()).unwrap();
        let document: Value = serde_json::from_str(&text).unwrap();
        validate(&schema, &document, "$").unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        checked += 1;
    }
    assert!(
        checked >= 5,
        "expected the IdP profiles in testdata/idp, found {checked}"
    );
}

#[test]
fn schema_refuses_misspelt_fields_and_wrong_types_like_the_parser() {
    let schema = json_schema();
    let mut misspelt_provider_field = entra_config();
    misspelt_provider_field["providers"][0]["audience"] = json!(["api://orders-api"]);
    let mut misspelt_top_level_field = entra_config();
    misspelt_top_level_field["rule"] = json!([]);
    let mut misspelt_rule_field = entra_config();
    misspelt_rule_field["rules"][0]["scope_required"] = json!(["x"]);
    let mut wrong_type = entra_config();
    wrong_type["clock_skew_secs"] = json!("60");
    let mut negative = entra_config();
    negative["providers"][0]["jwks_cache_ttl_secs"] = json!(-1);
    let mut header_to_number = entra_config();
    header_to_number["claims_to_headers"]["x-user-oid"] = json!(1);
    let no_providers = json!({});
    for (what, document) in [
        ("misspelt provider field", misspelt_provider_field),
        ("misspelt top-level field", misspelt_top_level_field),
        ("misspelt rule field", misspelt_rule_field),
        ("string for an integer", wrong_type),
        ("negative integer", negative),
        ("number for a claim path", header_to_number),
        ("no providers", no_providers),
    ] {
        assert!(
            validate(&schema, &document, "$").is_err(),
            "schema accepted: {what}"
        );
        let text = serde_json::to_vec(&document).unwrap();
        assert!(Config::from_json(&text).is_err(), "parser accepted: {what}");
    }
}
