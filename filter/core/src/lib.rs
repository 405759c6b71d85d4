//! Sans-IO core of the OIDC/JWT filter.
//!
//! Everything that decides lives here; nothing here reads a clock, does I/O or draws randomness.
//! Callers (the proxy-wasm adapter, tests, benchmarks) pass `now` and answers to fetches in, and
//! get back decisions and effects to carry out.

pub mod audit;
pub mod cache;
pub mod claims;
pub mod config;
pub mod cookie;
pub mod decision;
pub mod discovery;
pub mod ecdsa_p256;
pub mod engine;
pub mod entropy;
pub mod error;
pub mod extract;
pub mod form;
pub mod id_token;
pub mod introspection;
pub mod json;
pub mod jwks;
pub mod jws;
pub mod login;
pub mod peer;
pub mod pkce;
pub mod policy;
pub mod provider;
pub mod response;
pub mod rsa;
pub mod seal;
pub mod session;
pub mod shared;
pub mod tokens;
pub mod verify;

pub use decision::{Allow, Decision, Deny, Request};
pub use error::{AuthError, ConfigError};
pub use jws::Alg;
