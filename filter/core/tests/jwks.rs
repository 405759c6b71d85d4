//! Key sets: which published keys become usable, how one key is selected for a token, and that
//! tokens minted at test time verify with the selected key and nothing else.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::OnceLock;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use oidc_filter_core::json::JsonError;
use oidc_filter_core::jwks::{JwksError, KeyRejected, KeySet, PublicKey, MAX_JWKS_KEYS};
use oidc_filter_core::rsa::RsaPublicKey;
use oidc_filter_core::verify::verify_signature;
use oidc_filter_core::{jws, Alg, AuthError};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rsa::traits::PublicKeyParts;
use rsa::{Pkcs1v15Sign, Pss, RsaPrivateKey};
use serde_json::{json, Value};
use sha2::{Digest, Sha256, Sha384, Sha512};

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Test-only keys, generated from fixed seeds so runs are reproducible.
fn rsa_key(which: usize) -> &'static RsaPrivateKey {
    static KEYS: OnceLock<[RsaPrivateKey; 2]> = OnceLock::new();
    &KEYS.get_or_init(|| {
        [1, 2].map(|seed| RsaPrivateKey::new(&mut ChaCha8Rng::seed_from_u64(seed), 2048).unwrap())
    })[which]
}

fn p256_key() -> p256::ecdsa::SigningKey {
    p256::ecdsa::SigningKey::from_slice(&[0x11; 32]).unwrap()
}

fn p384_key() -> p384::ecdsa::SigningKey {
    p384::ecdsa::SigningKey::from_slice(&[0x22; 48]).unwrap()
}

fn ed25519_key() -> ed25519_dalek::SigningKey {
    ed25519_dalek::SigningKey::from_bytes(&[0x33; 32])
}

fn rsa_jwk(which: usize, extra: Value) -> Value {
    let key = rsa_key(which);
    merge(
        json!({"kty": "RSA", "n": b64(&key.n().to_bytes_be()), "e": b64(&key.e().to_bytes_be())}),
        extra,
    )
}

fn p256_jwk(extra: Value) -> Value {
    let point = p256_key().verifying_key().to_encoded_point(false);
    merge(
        json!({"kty": "EC", "crv": "P-256", "x": b64(point.x().unwrap()), "y": b64(point.y().unwrap())}),
        extra,
    )
}

fn p384_jwk(extra: Value) -> Value {
    let point = p384_key().verifying_key().to_encoded_point(false);
    merge(
        json!({"kty": "EC", "crv": "P-384", "x": b64(point.x().unwrap()), "y": b64(point.y().unwrap())}),
        extra,
    )
}

fn ed25519_jwk(extra: Value) -> Value {
    let x = ed25519_key().verifying_key().to_bytes();
    merge(json!({"kty": "OKP", "crv": "Ed25519", "x": b64(&x)}), extra)
}

fn merge(mut base: Value, extra: Value) -> Value {
    for (k, v) in extra.as_object().unwrap() {
        base[k] = v.clone();
    }
    base
}

fn set(keys: Vec<Value>) -> KeySet {
    KeySet::parse(json!({ "keys": keys }).to_string().as_bytes()).unwrap()
}

fn rejection(jwk: Value) -> KeyRejected {
    oidc_filter_core::jwks::Jwk::from_value(&jwk).unwrap_err()
}

/// A fully signed compact token.
fn mint(alg: Alg, kid: Option<&str>, claims: &Value) -> String {
    let mut header = json!({ "alg": alg.name(), "typ": "JWT" });
    if let Some(kid) = kid {
        header["kid"] = json!(kid);
    }
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    format!("{input}.{}", b64(&sign(alg, input.as_bytes())))
}

fn sign(alg: Alg, input: &[u8]) -> Vec<u8> {
    // One `signature::Signer` trait serves the ECDSA and Ed25519 keys alike.
    use ed25519_dalek::Signer as _;
    let rsa = rsa_key(0);
    let mut rng = ChaCha8Rng::seed_from_u64(99);
    match alg {
        Alg::RS256 => rsa
            .sign(Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(input))
            .unwrap(),
        Alg::RS384 => rsa
            .sign(Pkcs1v15Sign::new::<Sha384>(), &Sha384::digest(input))
            .unwrap(),
        Alg::RS512 => rsa
            .sign(Pkcs1v15Sign::new::<Sha512>(), &Sha512::digest(input))
            .unwrap(),
        Alg::PS256 => rsa
            .sign_with_rng(&mut rng, Pss::new::<Sha256>(), &Sha256::digest(input))
            .unwrap(),
        Alg::PS384 => rsa
            .sign_with_rng(&mut rng, Pss::new::<Sha384>(), &Sha384::digest(input))
            .unwrap(),
        Alg::PS512 => rsa
            .sign_with_rng(&mut rng, Pss::new::<Sha512>(), &Sha512::digest(input))
            .unwrap(),
        Alg::ES256 => {
            let sig: p256::ecdsa::Signature = p256_key().sign(input);
            sig.to_bytes().to_vec()
        }
        Alg::ES384 => {
            let sig: p384::ecdsa::Signature = p384_key().sign(input);
            sig.to_bytes().to_vec()
        }
        Alg::EdDSA => ed25519_key().sign(input).to_bytes().to_vec(),
    }
}

/// Parse, select, verify: the path a request takes through the signature half of the core.
fn check(keys: &KeySet, token: &str) -> Result<(), AuthError> {
    let parsed = jws::parse(token)?;
    let jwk = keys.select(parsed.header.kid.as_deref(), parsed.header.alg)?;
    verify_signature(
        parsed.header.alg,
        &jwk.key,
        parsed.signing_input,
        &parsed.signature,
    )
}

fn every_family() -> KeySet {
    set(vec![
        rsa_jwk(0, json!({"kid": "rsa"})),
        p256_jwk(json!({"kid": "p256"})),
        p384_jwk(json!({"kid": "p384"})),
        ed25519_jwk(json!({"kid": "ed"})),
    ])
}

fn kid_for(alg: Alg) -> &'static str {
    match alg {
        Alg::ES256 => "p256",
        Alg::ES384 => "p384",
        Alg::EdDSA => "ed",
        _ => "rsa",
    }
}

// ---- parsing real-shaped documents ----

#[test]
fn parses_an_entra_like_rsa_key_with_x5c_and_no_alg() {
    let entra = rsa_jwk(
        0,
        json!({
            "use": "sig", "kid": "nOo3ZDrODXEK1jKWhXslHR_KXEg", "x5t": "nOo3ZDrODXEK1jKWhXslHR_KXEg",
            "x5c": ["MIIDBTCCAe2gAwIBAgIQN33ROaIJ6bJBWDCxtmJEbjANBgkqhkiG9w0BAQsFADAtMSswKQYDVQQD"],
            "issuer": "https://login.microsoftonline.com/{tenantid}/v2.0"
        }),
    );
    let keys = set(vec![entra]);
    let jwk = keys
        .select(Some("nOo3ZDrODXEK1jKWhXslHR_KXEg"), Alg::RS256)
        .unwrap();
    assert_eq!(jwk.alg, None);
    assert!(matches!(jwk.key, PublicKey::Rsa(_)));
    assert_eq!(
        keys.kids().collect::<Vec<_>>(),
        ["nOo3ZDrODXEK1jKWhXslHR_KXEg"]
    );
}

#[test]
fn skips_a_keycloak_like_encryption_key() {
    let doc = json!({"keys": [
        rsa_jwk(0, json!({"kid": "sig-1", "use": "sig", "alg": "RS256", "x5c": ["MIIC"], "x5t": "a"})),
        rsa_jwk(1, json!({"kid": "enc-1", "use": "enc", "alg": "RSA-OAEP"})),
    ]});
    let keys = KeySet::parse(doc.to_string().as_bytes()).unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys.kids().collect::<Vec<_>>(), ["sig-1"]);
    assert_eq!(keys.skipped().len(), 1);
    assert_eq!(keys.skipped()[0].index, 1);
    assert_eq!(keys.skipped()[0].kid.as_deref(), Some("enc-1"));
    assert_eq!(keys.skipped()[0].reason, KeyRejected::NotForSignatures);
    assert_eq!(
        keys.select(Some("enc-1"), Alg::RS256).unwrap_err(),
        AuthError::UnknownKid
    );
}

#[test]
fn parses_ec_p256_p384_and_ed25519_keys() {
    let keys = every_family();
    assert_eq!(keys.len(), 4);
    assert!(!keys.is_empty());
    assert!(matches!(
        keys.select(Some("p256"), Alg::ES256).unwrap().key,
        PublicKey::P256(_)
    ));
    assert!(matches!(
        keys.select(Some("p384"), Alg::ES384).unwrap().key,
        PublicKey::P384(_)
    ));
    assert!(matches!(
        keys.select(Some("ed"), Alg::EdDSA).unwrap().key,
        PublicKey::Ed25519(_)
    ));
}

#[test]
fn builds_a_set_from_an_inline_configuration_value() {
    let inline = json!({"keys": [ed25519_jwk(json!({"kid": "inline"}))]});
    let keys = KeySet::from_value(&inline).unwrap();
    assert_eq!(keys.kids().collect::<Vec<_>>(), ["inline"]);
}

#[test]
fn refuses_documents_that_are_not_key_sets() {
    for doc in [
        r#"[]"#,
        r#"{}"#,
        r#"{"keys":{}}"#,
        r#"{"keys":"k"}"#,
        r#"{"Keys":[]}"#,
        "7",
    ] {
        assert_eq!(
            KeySet::parse(doc.as_bytes()).unwrap_err(),
            JwksError::NotAKeySet,
            "{doc}"
        );
    }
    assert!(matches!(
        KeySet::parse(b"{\"keys\":["),
        Err(JwksError::Json(JsonError::Syntax(_)))
    ));
    assert_eq!(
        KeySet::parse(br#"{"keys":[],"keys":[]}"#).unwrap_err(),
        JwksError::Json(JsonError::DuplicateKey("keys".into()))
    );
}

#[test]
fn refuses_a_set_without_usable_keys() {
    assert_eq!(
        KeySet::parse(br#"{"keys":[]}"#).unwrap_err(),
        JwksError::NoUsableKeys
    );
    let only_enc = json!({"keys": [rsa_jwk(0, json!({"use": "enc"})), "junk", 7]});
    assert_eq!(
        KeySet::from_value(&only_enc).unwrap_err(),
        JwksError::NoUsableKeys
    );
}

#[test]
fn skips_keys_with_private_material() {
    for member in ["d", "p", "q", "dp", "dq", "qi", "oth"] {
        assert_eq!(
            rejection(rsa_jwk(0, json!({ member: "AQAB" }))),
            KeyRejected::PrivateMaterial
        );
    }
    assert_eq!(
        rejection(json!({"kty": "oct", "k": "c2VjcmV0"})),
        KeyRejected::PrivateMaterial
    );
    assert_eq!(
        rejection(ed25519_jwk(json!({"d": "AAAA"}))),
        KeyRejected::PrivateMaterial
    );
}

#[test]
fn skips_keys_not_meant_for_verification() {
    assert_eq!(
        rejection(rsa_jwk(0, json!({"use": "enc"}))),
        KeyRejected::NotForSignatures
    );
    assert_eq!(
        rejection(rsa_jwk(0, json!({"use": 1}))),
        KeyRejected::NotForSignatures
    );
    assert_eq!(
        rejection(rsa_jwk(0, json!({"key_ops": ["encrypt"]}))),
        KeyRejected::NotForSignatures
    );
    assert!(
        oidc_filter_core::jwks::Jwk::from_value(&rsa_jwk(0, json!({"key_ops": ["verify"]})))
            .is_ok()
    );
}

fn synthetic_rsa(n: &[u8], e: &[u8]) -> Value {
    json!({"kty": "RSA", "n": b64(n), "e": b64(e)})
}

#[test]
fn refuses_rsa_moduli_outside_2048_to_8192_bits() {
    let mut n2047 = vec![0xff; 256];
    n2047[0] = 0x7f;
    assert_eq!(
        rejection(synthetic_rsa(&n2047, &[1, 0, 1])),
        KeyRejected::WeakRsaKey
    );
    assert_eq!(
        rejection(synthetic_rsa(&[0xff; 128], &[1, 0, 1])),
        KeyRejected::WeakRsaKey
    );
    assert_eq!(
        rejection(synthetic_rsa(&[0xff; 1025], &[1, 0, 1])),
        KeyRejected::WeakRsaKey
    );
    for bytes in [256, 1024] {
        let jwk = synthetic_rsa(&vec![0xff; bytes], &[1, 0, 1]);
        assert!(
            oidc_filter_core::jwks::Jwk::from_value(&jwk).is_ok(),
            "{bytes} bytes"
        );
    }
    // A leading zero byte does not make a 2048-bit modulus longer.
    let mut padded = vec![0];
    padded.extend(rsa_key(0).n().to_bytes_be());
    assert!(oidc_filter_core::jwks::Jwk::from_value(&synthetic_rsa(&padded, &[1, 0, 1])).is_ok());
}

#[test]
fn refuses_rsa_exponents_that_are_even_or_below_three() {
    let n = rsa_key(0).n().to_bytes_be();
    for e in [&[1][..], &[2], &[0], &[1, 0, 0], &[]] {
        assert_eq!(
            rejection(synthetic_rsa(&n, e)),
            KeyRejected::WeakRsaKey,
            "{e:?}"
        );
    }
    assert!(oidc_filter_core::jwks::Jwk::from_value(&synthetic_rsa(&n, &[3])).is_ok());
}

#[test]
fn refuses_ec_keys_with_wrong_sizes_or_off_the_curve() {
    let good = p256_jwk(json!({}));
    let x = URL_SAFE_NO_PAD.decode(good["x"].as_str().unwrap()).unwrap();
    let y = URL_SAFE_NO_PAD.decode(good["y"].as_str().unwrap()).unwrap();
    let short = merge(good.clone(), json!({"x": b64(&x[1..])}));
    assert_eq!(rejection(short), KeyRejected::InvalidMember("x"));
    let mut y_off = y.clone();
    y_off[31] ^= 1;
    assert_eq!(
        rejection(merge(good.clone(), json!({"y": b64(&y_off)}))),
        KeyRejected::InvalidKey
    );
    // A P-256 point claimed as P-384 has the wrong coordinate length.
    assert_eq!(
        rejection(merge(good.clone(), json!({"crv": "P-384"}))),
        KeyRejected::InvalidMember("x")
    );
    assert_eq!(
        rejection(merge(good.clone(), json!({"crv": "P-521"}))),
        KeyRejected::UnsupportedKeyType
    );
    assert_eq!(
        rejection(merge(good, json!({"crv": "secp256k1"}))),
        KeyRejected::UnsupportedKeyType
    );
}

#[test]
fn refuses_unsupported_okp_curves_and_small_order_ed25519_keys() {
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let small_order = json!({"kty": "OKP", "crv": "Ed25519", "x": b64(&identity)});
    assert_eq!(rejection(small_order), KeyRejected::InvalidKey);
    assert_eq!(
        rejection(ed25519_jwk(json!({"crv": "Ed448"}))),
        KeyRejected::UnsupportedKeyType
    );
    assert_eq!(
        rejection(ed25519_jwk(json!({"crv": "X25519"}))),
        KeyRejected::UnsupportedKeyType
    );
}

#[test]
fn refuses_keys_whose_alg_we_do_not_support_or_that_does_not_fit() {
    assert_eq!(
        rejection(rsa_jwk(0, json!({"alg": "RSA-OAEP"}))),
        KeyRejected::UnsupportedAlg
    );
    assert_eq!(
        rejection(rsa_jwk(0, json!({"alg": "HS256"}))),
        KeyRejected::UnsupportedAlg
    );
    assert_eq!(
        rejection(rsa_jwk(0, json!({"alg": "ES256"}))),
        KeyRejected::AlgDoesNotFitKey
    );
    assert_eq!(
        rejection(p256_jwk(json!({"alg": "ES384"}))),
        KeyRejected::AlgDoesNotFitKey
    );
    assert_eq!(
        rejection(rsa_jwk(0, json!({"kid": 7}))),
        KeyRejected::InvalidMember("kid")
    );
    assert_eq!(
        rejection(json!({"kty": "oct"})),
        KeyRejected::UnsupportedKeyType
    );
    assert_eq!(
        rejection(json!({"n": "AQAB"})),
        KeyRejected::InvalidMember("kty")
    );
}

#[test]
fn considers_at_most_the_first_hundred_keys() {
    let many: Vec<Value> = (0..150)
        .map(|i| ed25519_jwk(json!({ "kid": format!("k{i}") })))
        .collect();
    let keys = set(many);
    assert_eq!(keys.len(), MAX_JWKS_KEYS);
    assert_eq!(
        keys.select(Some("k150"), Alg::EdDSA).unwrap_err(),
        AuthError::UnknownKid
    );
    let mut late: Vec<Value> = (0..MAX_JWKS_KEYS).map(|_| json!({"kty": "oct"})).collect();
    late.push(ed25519_jwk(json!({"kid": "late"})));
    let doc = json!({ "keys": late });
    assert_eq!(
        KeySet::from_value(&doc).unwrap_err(),
        JwksError::NoUsableKeys
    );
}

// ---- selection ----

#[test]
fn selects_the_key_named_by_kid() {
    let keys = set(vec![
        rsa_jwk(0, json!({"kid": "a"})),
        rsa_jwk(1, json!({"kid": "b"})),
    ]);
    let chosen = keys.select(Some("b"), Alg::RS256).unwrap();
    assert_eq!(chosen.kid.as_deref(), Some("b"));
    let public = rsa_key(1).to_public_key();
    let expected =
        RsaPublicKey::from_be_bytes(&public.n().to_bytes_be(), &public.e().to_bytes_be());
    assert_eq!(chosen.key, PublicKey::Rsa(expected.unwrap()));
}

#[test]
fn refuses_an_unknown_or_path_like_kid() {
    let keys = every_family();
    for kid in ["nope", "../../etc/passwd", "RSA", "", "rsa "] {
        assert_eq!(
            keys.select(Some(kid), Alg::RS256).unwrap_err(),
            AuthError::UnknownKid,
            "{kid:?}"
        );
    }
}

#[test]
fn refuses_a_known_kid_whose_key_type_does_not_fit_the_alg() {
    let keys = every_family();
    assert_eq!(
        keys.select(Some("rsa"), Alg::ES256).unwrap_err(),
        AuthError::UnsupportedAlg
    );
    assert_eq!(
        keys.select(Some("p256"), Alg::ES384).unwrap_err(),
        AuthError::UnsupportedAlg
    );
    assert_eq!(
        keys.select(Some("p384"), Alg::RS256).unwrap_err(),
        AuthError::UnsupportedAlg
    );
    assert_eq!(
        keys.select(Some("ed"), Alg::ES256).unwrap_err(),
        AuthError::UnsupportedAlg
    );
}

#[test]
fn refuses_a_known_kid_whose_own_alg_differs() {
    let keys = set(vec![rsa_jwk(0, json!({"kid": "a", "alg": "RS256"}))]);
    assert!(keys.select(Some("a"), Alg::RS256).is_ok());
    for alg in [Alg::PS256, Alg::RS384, Alg::RS512] {
        assert_eq!(
            keys.select(Some("a"), alg).unwrap_err(),
            AuthError::UnsupportedAlg
        );
    }
}

#[test]
fn without_kid_selects_only_the_single_fitting_key() {
    let keys = every_family();
    assert_eq!(
        keys.select(None, Alg::ES256).unwrap().kid.as_deref(),
        Some("p256")
    );
    assert_eq!(
        keys.select(None, Alg::EdDSA).unwrap().kid.as_deref(),
        Some("ed")
    );
    let two_rsa = set(vec![
        rsa_jwk(0, json!({"kid": "a"})),
        rsa_jwk(1, json!({"kid": "b"})),
    ]);
    assert_eq!(
        two_rsa.select(None, Alg::RS256).unwrap_err(),
        AuthError::UnknownKid
    );
    let rs_and_ps = set(vec![
        rsa_jwk(0, json!({"kid": "a", "alg": "RS256"})),
        rsa_jwk(1, json!({"kid": "b", "alg": "PS256"})),
    ]);
    assert_eq!(
        rs_and_ps.select(None, Alg::PS256).unwrap().kid.as_deref(),
        Some("b")
    );
    assert_eq!(
        every_family()
            .select(None, Alg::PS512)
            .unwrap()
            .kid
            .as_deref(),
        Some("rsa")
    );
    let none_fit = set(vec![p256_jwk(json!({}))]);
    assert_eq!(
        none_fit.select(None, Alg::RS256).unwrap_err(),
        AuthError::UnknownKid
    );
}

#[test]
fn a_kid_shared_by_two_fitting_keys_selects_neither() {
    let keys = set(vec![
        rsa_jwk(0, json!({"kid": "dup"})),
        rsa_jwk(1, json!({"kid": "dup"})),
    ]);
    assert_eq!(
        keys.select(Some("dup"), Alg::RS256).unwrap_err(),
        AuthError::UnknownKid
    );
    let mixed = set(vec![
        rsa_jwk(0, json!({"kid": "dup"})),
        p256_jwk(json!({"kid": "dup"})),
    ]);
    assert!(matches!(
        mixed.select(Some("dup"), Alg::ES256).unwrap().key,
        PublicKey::P256(_)
    ));
}

// ---- fingerprints ----

#[test]
fn fingerprint_ignores_order_but_sees_rotation() {
    let a = rsa_jwk(0, json!({"kid": "a"}));
    let b = ed25519_jwk(json!({"kid": "b"}));
    let base = set(vec![a.clone(), b.clone()]).fingerprint();
    assert_eq!(set(vec![b.clone(), a.clone()]).fingerprint(), base);
    let enc = rsa_jwk(1, json!({"kid": "enc", "use": "enc"}));
    assert_eq!(set(vec![a.clone(), enc, b.clone()]).fingerprint(), base);
    assert_ne!(set(vec![a.clone()]).fingerprint(), base);
    assert_ne!(
        set(vec![rsa_jwk(1, json!({"kid": "a"})), b.clone()]).fingerprint(),
        base
    );
    assert_ne!(
        set(vec![rsa_jwk(0, json!({"kid": "a2"})), b.clone()]).fingerprint(),
        base
    );
    assert_ne!(
        set(vec![rsa_jwk(0, json!({"kid": "a", "alg": "RS256"})), b]).fingerprint(),
        base
    );
}

// ---- minted tokens through parse, select and verify ----

#[test]
fn verifies_tokens_minted_for_every_alg_with_the_selected_key() {
    let keys = every_family();
    let claims = json!({"iss": "https://idp.example", "sub": "alice", "exp": 2_000_000_000});
    for alg in Alg::ALL {
        let token = mint(alg, Some(kid_for(alg)), &claims);
        assert_eq!(check(&keys, &token), Ok(()), "{alg:?}");
    }
}

#[test]
fn refuses_a_minted_token_whose_claims_were_changed() {
    let keys = every_family();
    for alg in Alg::ALL {
        let token = mint(alg, Some(kid_for(alg)), &json!({"sub": "alice"}));
        let parts: Vec<&str> = token.split('.').collect();
        let forged = format!("{}.{}.{}", parts[0], b64(br#"{"sub":"admin"}"#), parts[2]);
        assert_eq!(
            check(&keys, &forged),
            Err(AuthError::BadSignature),
            "{alg:?}"
        );
    }
}

#[test]
fn refuses_a_token_signed_by_a_different_key_with_the_same_kid() {
    let impostor = set(vec![rsa_jwk(1, json!({"kid": "rsa"}))]);
    let token = mint(Alg::RS256, Some("rsa"), &json!({"sub": "alice"}));
    assert_eq!(check(&impostor, &token), Err(AuthError::BadSignature));
}

#[test]
fn refuses_a_pkcs1_signature_relabelled_as_pss() {
    let keys = every_family();
    let token = mint(Alg::RS256, Some("rsa"), &json!({"sub": "alice"}));
    let parsed = jws::parse(&token).unwrap();
    let key = &keys.select(Some("rsa"), Alg::PS256).unwrap().key;
    let outcome = verify_signature(Alg::PS256, key, parsed.signing_input, &parsed.signature);
    assert_eq!(outcome, Err(AuthError::BadSignature));
}

#[test]
fn refuses_verification_with_a_key_of_another_family() {
    let keys = every_family();
    let rsa = &keys.select(Some("rsa"), Alg::RS256).unwrap().key;
    let ed = &keys.select(Some("ed"), Alg::EdDSA).unwrap().key;
    assert_eq!(
        verify_signature(Alg::ES256, rsa, b"x", &[0; 64]),
        Err(AuthError::UnsupportedAlg)
    );
    assert_eq!(
        verify_signature(Alg::RS256, ed, b"x", &[0; 256]),
        Err(AuthError::UnsupportedAlg)
    );
}

#[test]
fn refuses_signatures_of_the_wrong_length() {
    let keys = every_family();
    for alg in Alg::ALL {
        let token = mint(alg, Some(kid_for(alg)), &json!({"sub": "alice"}));
        let parsed = jws::parse(&token).unwrap();
        let key = &keys.select(Some(kid_for(alg)), alg).unwrap().key;
        let mut longer = parsed.signature.clone();
        longer.push(0);
        let mut prefixed = vec![0];
        prefixed.extend(&parsed.signature);
        let shorter = &parsed.signature[..parsed.signature.len() - 1];
        for sig in [&longer[..], &prefixed[..], shorter, &[]] {
            let outcome = verify_signature(alg, key, parsed.signing_input, sig);
            assert_eq!(
                outcome,
                Err(AuthError::BadSignature),
                "{alg:?} len {}",
                sig.len()
            );
        }
    }
}

#[test]
fn refuses_a_der_encoded_ecdsa_signature() {
    use p256::ecdsa::signature::Signer as _;
    let keys = every_family();
    let input = b"header.claims";
    let sig: p256::ecdsa::Signature = p256_key().sign(input);
    let key = &keys.select(Some("p256"), Alg::ES256).unwrap().key;
    assert_eq!(
        verify_signature(Alg::ES256, key, input, &sig.to_bytes()),
        Ok(())
    );
    let der = sig.to_der();
    assert_eq!(
        verify_signature(Alg::ES256, key, input, der.as_bytes()),
        Err(AuthError::BadSignature)
    );
}

#[test]
fn refuses_an_rsa_signature_not_below_the_modulus() {
    let keys = every_family();
    let key = &keys.select(Some("rsa"), Alg::RS256).unwrap().key;
    let n = rsa_key(0).n().to_bytes_be();
    assert_eq!(
        verify_signature(Alg::RS256, key, b"x", &n),
        Err(AuthError::BadSignature)
    );
    assert_eq!(
        verify_signature(Alg::PS256, key, b"x", &[0xff; 256]),
        Err(AuthError::BadSignature)
    );
}
