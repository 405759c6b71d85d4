//! The configuration document as JSON Schema draft 4, generated from the serde shapes in `raw`,
//! so the schema cannot drift from what the parser accepts. Kong validates a filter's
//! configuration against the `config_schema` of `<filter>.meta.json` and supports draft 4 only
//! (Kong/kong `kong/db/schema/json.lua`); kong/oidc_filter.meta.json is this function's output.
//!
//! The schema says less than the parser checks (URLs, names, one-of rules are validated in
//! `config`), never more: every document the parser accepts must pass it.

use super::raw::RawConfig;
use schemars::generate::SchemaSettings;
use serde_json::{json, Map, Value};

/// The `$schema` of draft 4, as Kong's validator expects it.
pub const DRAFT_04: &str = "http://json-schema.org/draft-04/schema#";

/// The JSON Schema (draft 4) of the configuration document.
pub fn json_schema() -> Value {
    let generator = SchemaSettings::draft07()
        .with(|s| {
            // Draft 4 validators resolve `$ref` unevenly: inline every subschema instead.
            s.inline_subschemas = true;
        })
        .into_generator();
    let mut schema = generator.into_root_schema_for::<RawConfig>().to_value();
    to_draft_04(&mut schema);
    if let Value::Object(root) = &mut schema {
        root.insert("$schema".into(), json!(DRAFT_04));
        root.insert("title".into(), json!("oidc-filter configuration"));
    }
    schema
}

/// Rewrites the few draft 6/7 forms schemars emits into their draft 4 equivalents.
fn to_draft_04(schema: &mut Value) {
    match schema {
        // Boolean schemas (`true`: anything, e.g. an inline JWKS) are draft 6.
        Value::Bool(true) => *schema = json!({}),
        Value::Bool(false) => *schema = json!({"not": {}}),
        Value::Object(map) => {
            rewrite_keywords(map);
            for (key, value) in map.iter_mut() {
                match key.as_str() {
                    "properties" | "patternProperties" => {
                        if let Value::Object(props) = value {
                            props.values_mut().for_each(to_draft_04);
                        }
                    }
                    "items" | "not" => to_draft_04(value),
                    // A boolean is draft 4 here too (`false`: no unknown fields).
                    "additionalProperties" if value.is_object() => to_draft_04(value),
                    "anyOf" | "allOf" | "oneOf" => {
                        if let Value::Array(list) = value {
                            list.iter_mut().for_each(to_draft_04);
                        }
                    }
                    _ => {}
                }
            }
        }
        _ => {}
    }
}

fn rewrite_keywords(map: &mut Map<String, Value>) {
    if let Some(value) = map.remove("const") {
        map.insert("enum".into(), json!([value]));
    }
    // `format: uint64` and the like are schemars' own annotations, unknown to draft 4.
    map.remove("format");
    map.remove("examples");
}
