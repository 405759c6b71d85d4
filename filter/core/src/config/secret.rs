//! Secrets in the configuration (`client_secret`, session keys). A [`Secret`] keeps its text for
//! the code that needs it and shows it to nobody else: its `Debug` prints a placeholder, and a
//! document that gives it the wrong JSON type is refused without quoting the value (serde's own
//! "invalid type" messages would echo it into the log line that reports the error).

use std::fmt;

use serde::{Deserialize, Deserializer};

/// A configured secret. Compare and print it only through [`Secret::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(text: impl Into<String>) -> Secret {
        Secret(text.into())
    }

    /// The secret itself, for the one place that sends or uses it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match serde_json::Value::deserialize(deserializer)? {
            serde_json::Value::String(text) => Ok(Secret(text)),
            _ => Err(serde::de::Error::custom("must be a string")),
        }
    }
}

/// In the configuration's JSON Schema a secret is a string (`config::json_schema`).
#[cfg(feature = "schema")]
impl schemars::JsonSchema for Secret {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Secret".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "type": "string" })
    }
}
