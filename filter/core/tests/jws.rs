//! Compact JWS parsing: what reaches signature verification and what is refused before it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use oidc_filter_core::jws::{self, MAX_TOKEN_BYTES};
use oidc_filter_core::{Alg, AuthError};
use rand_chacha::rand_core::SeedableRng;
use rsa::traits::PublicKeyParts;
use serde_json::json;
use sha2::Sha256;

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A token from raw header and claims text and a stand-in signature (parsing never verifies).
fn token(header: &str, claims: &str) -> String {
    format!(
        "{}.{}.{}",
        b64(header.as_bytes()),
        b64(claims.as_bytes()),
        b64(&[1; 64])
    )
}

fn parse_err(token: &str) -> AuthError {
    jws::parse(token).unwrap_err()
}

const RS256: &str = r#"{"alg":"RS256","kid":"k1"}"#;
const CLAIMS: &str = r#"{"sub":"alice","exp":1700000000}"#;

#[test]
fn parses_header_claims_and_exact_signing_input() {
    let t = token(r#"{"alg":"ES256","kid":"k1","typ":"JWT"}"#, CLAIMS);
    let parsed = jws::parse(&t).unwrap();
    assert_eq!(parsed.header.alg, Alg::ES256);
    assert_eq!(parsed.header.kid.as_deref(), Some("k1"));
    assert_eq!(parsed.header.typ.as_deref(), Some("JWT"));
    assert_eq!(parsed.claims["sub"], "alice");
    assert_eq!(parsed.signature, vec![1; 64]);
    let dot = t.rfind('.').unwrap();
    assert_eq!(parsed.signing_input, &t.as_bytes()[..dot]);
}

#[test]
fn parses_a_header_without_kid_or_typ() {
    let t = token(r#"{"alg":"EdDSA"}"#, "{}");
    let parsed = jws::parse(&t).unwrap();
    assert_eq!(parsed.header.kid, None);
    assert_eq!(parsed.header.typ, None);
}

#[test]
fn refuses_alg_none_as_unsupported() {
    assert_eq!(
        parse_err(&token(r#"{"alg":"none"}"#, CLAIMS)),
        AuthError::UnsupportedAlg
    );
    assert_eq!(
        parse_err(&token(r#"{"alg":"None"}"#, CLAIMS)),
        AuthError::UnsupportedAlg
    );
}

#[test]
fn refuses_an_unsigned_alg_none_token_with_empty_signature() {
    let t = format!("{}.{}.", b64(br#"{"alg":"none"}"#), b64(CLAIMS.as_bytes()));
    assert_eq!(parse_err(&t), AuthError::Malformed);
}

#[test]
fn refuses_hs256_signed_with_the_rsa_public_key_as_hmac_secret() {
    // The classic RS256 -> HS256 confusion: the attacker knows the IdP's public key and uses
    // its published bytes (here the JWK and the DER-less modulus) as the HMAC secret.
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let private = rsa::RsaPrivateKey::new(&mut rng, 2048).unwrap();
    let jwk = json!({
        "kty": "RSA",
        "kid": "k1",
        "n": b64(&private.n().to_bytes_be()),
        "e": b64(&private.e().to_bytes_be()),
    })
    .to_string();
    for secret in [jwk.as_bytes(), &private.n().to_bytes_be()[..]] {
        let signing_input = format!(
            "{}.{}",
            b64(br#"{"alg":"HS256","kid":"k1"}"#),
            b64(CLAIMS.as_bytes())
        );
        let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
        mac.update(signing_input.as_bytes());
        let tag = mac.finalize().into_bytes();
        let forged = format!("{signing_input}.{}", b64(&tag));
        assert_eq!(parse_err(&forged), AuthError::UnsupportedAlg);
    }
}

#[test]
fn refuses_every_hmac_and_unknown_alg() {
    for alg in [
        "HS256", "HS384", "HS512", "ES512", "RS1", "rs256", "RS256 ", "",
    ] {
        let header = json!({ "alg": alg }).to_string();
        assert_eq!(
            parse_err(&token(&header, CLAIMS)),
            AuthError::UnsupportedAlg,
            "{alg:?}"
        );
    }
}

#[test]
fn accepts_every_supported_alg_name() {
    for alg in Alg::ALL {
        let header = json!({ "alg": alg.name() }).to_string();
        assert_eq!(jws::parse(&token(&header, CLAIMS)).unwrap().header.alg, alg);
    }
}

#[test]
fn refuses_a_missing_or_non_string_alg_as_malformed() {
    for header in [
        r#"{"kid":"k1"}"#,
        r#"{"alg":256}"#,
        r#"{"alg":["RS256"]}"#,
        r#"{"alg":null}"#,
    ] {
        assert_eq!(
            parse_err(&token(header, CLAIMS)),
            AuthError::Malformed,
            "{header}"
        );
    }
}

#[test]
fn refuses_a_stripped_signature() {
    let t = token(RS256, CLAIMS);
    let stripped = &t[..=t.rfind('.').unwrap()];
    assert_eq!(parse_err(stripped), AuthError::Malformed);
}

#[test]
fn refuses_anything_but_three_parts() {
    let h = b64(RS256.as_bytes());
    let c = b64(CLAIMS.as_bytes());
    let s = b64(&[1; 64]);
    for t in [
        String::new(),
        h.clone(),
        format!("{h}.{c}"),
        format!("{h}.{c}.{s}.{s}"),
        format!("{h}.{c}.{s}.{s}.{s}"),
        format!(".{c}.{s}"),
        format!("{h}..{s}"),
    ] {
        assert_eq!(parse_err(&t), AuthError::Malformed, "{t}");
    }
}

#[test]
fn refuses_a_one_megabyte_token_as_too_large() {
    let huge = "a".repeat(1024 * 1024);
    assert_eq!(parse_err(&huge), AuthError::TooLarge);
}

#[test]
fn checks_size_before_structure() {
    assert_eq!(
        parse_err(&".".repeat(MAX_TOKEN_BYTES + 1)),
        AuthError::TooLarge
    );
    assert_eq!(
        parse_err(&".".repeat(MAX_TOKEN_BYTES)),
        AuthError::Malformed
    );
}

#[test]
fn accepts_a_token_of_exactly_the_size_cap() {
    // base64url lengths skip 1 mod 4, so vary both the claims and the signature to land on it.
    let exact = (MAX_TOKEN_BYTES * 3 / 4 - 200..MAX_TOKEN_BYTES)
        .flat_map(|filler| (64..68).map(move |sig_len| (filler, sig_len)))
        .map(|(filler, sig_len)| {
            let claims = format!(r#"{{"p":"{}"}}"#, "x".repeat(filler));
            format!(
                "{}.{}.{}",
                b64(RS256.as_bytes()),
                b64(claims.as_bytes()),
                b64(&vec![1; sig_len])
            )
        })
        .find(|t| t.len() == MAX_TOKEN_BYTES)
        .unwrap();
    assert!(jws::parse(&exact).is_ok());
}

#[test]
fn refuses_padded_standard_or_non_canonical_base64() {
    let h = b64(RS256.as_bytes());
    let c = b64(CLAIMS.as_bytes());
    let cases = [
        format!("{h}.{c}.AQ=="),     // padding
        format!("{h}.{c}.+/8"),      // standard alphabet
        format!("{h}.{c}.AQ B"),     // whitespace
        format!("{h}.{c}.AR"),       // non-zero trailing bits (non-canonical)
        format!("{h}.{c}.A"),        // impossible length
        format!("{h}=.{c}.AQ"),      // padded header
        format!("{h}.{c}%3D.AQ"),    // percent-encoded padding
        format!("{h}.{c}.\u{e9}AQ"), // non-ASCII
    ];
    for t in cases {
        assert_eq!(parse_err(&t), AuthError::Malformed, "{t}");
    }
    assert!(jws::parse(&format!("{h}.{c}.AQ")).is_ok());
}

#[test]
fn refuses_a_header_that_is_not_a_json_object() {
    for header in [
        "RS256",
        "{alg:RS256}",
        r#"["RS256"]"#,
        r#""RS256""#,
        "",
        "{\"alg\":\"RS256\"} x",
    ] {
        assert_eq!(
            parse_err(&token(header, CLAIMS)),
            AuthError::Malformed,
            "{header}"
        );
    }
}

#[test]
fn refuses_claims_that_are_not_a_json_object() {
    for claims in ["", "null", "[]", r#""sub""#, "{", "{\"sub\":\"a\"}garbage"] {
        assert_eq!(
            parse_err(&token(RS256, claims)),
            AuthError::Malformed,
            "{claims}"
        );
    }
}

#[test]
fn refuses_duplicate_claim_names() {
    let t = token(RS256, r#"{"sub":"a","sub":"b"}"#);
    assert_eq!(parse_err(&t), AuthError::Malformed);
}

#[test]
fn refuses_duplicate_header_names() {
    let t = token(r#"{"alg":"RS256","alg":"none"}"#, CLAIMS);
    assert_eq!(parse_err(&t), AuthError::Malformed);
}

#[test]
fn refuses_ten_thousand_nested_arrays_without_overflowing_the_stack() {
    let claims = format!(r#"{{"a":{}}}"#, "[".repeat(10_000));
    let t = token(RS256, &claims);
    assert!(t.len() <= MAX_TOKEN_BYTES, "must reach the JSON parser");
    assert_eq!(parse_err(&t), AuthError::Malformed);
}

#[test]
fn refuses_nesting_just_past_the_json_depth_limit() {
    let depth = oidc_filter_core::json::MAX_JSON_DEPTH;
    let nested = |n: usize| format!(r#"{{"a":{}1{}}}"#, "[".repeat(n), "]".repeat(n));
    assert!(jws::parse(&token(RS256, &nested(depth - 1))).is_ok());
    assert_eq!(
        parse_err(&token(RS256, &nested(depth))),
        AuthError::Malformed
    );
}

#[test]
fn refuses_headers_that_point_at_or_embed_keys() {
    let cases = [
        json!({"alg": "RS256", "jku": "https://attacker.example/jwks.json"}),
        json!({"alg": "RS256", "x5u": "https://attacker.example/cert.pem"}),
        json!({"alg": "RS256", "jwk": {"kty": "RSA", "n": "AQAB", "e": "AQAB"}}),
        json!({"alg": "RS256", "x5c": ["MIIB"]}),
        json!({"alg": "RS256", "jku": null}),
    ];
    for header in cases {
        let t = token(&header.to_string(), CLAIMS);
        assert_eq!(parse_err(&t), AuthError::ForbiddenHeader, "{header}");
    }
}

#[test]
fn refuses_any_crit_header() {
    for crit in [json!(["exp"]), json!(["b64"]), json!([]), json!("b64")] {
        let header = json!({"alg": "RS256", "crit": crit, "b64": false, "exp": 1});
        let t = token(&header.to_string(), CLAIMS);
        assert_eq!(parse_err(&t), AuthError::ForbiddenHeader, "{crit}");
    }
}

#[test]
fn ignores_certificate_thumbprints() {
    let header = json!({"alg": "RS256", "kid": "k1", "x5t": "abc", "x5t#S256": "def"});
    assert!(jws::parse(&token(&header.to_string(), CLAIMS)).is_ok());
}

#[test]
fn refuses_a_kid_or_typ_that_is_not_a_string() {
    for header in [
        json!({"alg": "RS256", "kid": 1}),
        json!({"alg": "RS256", "kid": null}),
        json!({"alg": "RS256", "kid": ["k1"]}),
        json!({"alg": "RS256", "typ": {"JWT": true}}),
    ] {
        let t = token(&header.to_string(), CLAIMS);
        assert_eq!(parse_err(&t), AuthError::Malformed, "{header}");
    }
}

#[test]
fn keeps_a_path_like_kid_as_an_opaque_string() {
    let t = token(r#"{"alg":"RS256","kid":"../../etc/passwd"}"#, CLAIMS);
    assert_eq!(
        jws::parse(&t).unwrap().header.kid.as_deref(),
        Some("../../etc/passwd")
    );
}

#[test]
fn leaves_claim_types_to_the_claims_module() {
    let t = token(RS256, r#"{"exp":"tomorrow","nbf":null}"#);
    assert_eq!(jws::parse(&t).unwrap().claims["exp"], "tomorrow");
}
