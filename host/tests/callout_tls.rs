//! https callouts: a cluster with `ca_file` trusts a private CA; without it the webpki roots do not,
//! and the call fails instead of talking to an unverified peer. Certificates are made at test time.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use oidc_host::callout::HttpCallouts;
use oidc_host::config::ClusterConfig;
use oidc_host::runtime::{Callout, CalloutResult};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::TcpListener;

/// A private CA and an https server on 127.0.0.1 with a certificate it issued; returns the
/// server's address and the CA certificate as PEM.
async fn tls_server() -> (SocketAddr, String) {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&leaf_key, &ca)
        .unwrap();
    let chain = vec![leaf.der().clone(), CertificateDer::from(ca.der().to_vec())];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let service = service_fn(|req: hyper::Request<hyper::body::Incoming>| async move {
                    let body = format!("{{\"path\":\"{}\"}}", req.uri().path());
                    Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::from(body))))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    (addr, ca.pem())
}

fn callout(upstream: &str) -> Callout {
    Callout {
        upstream: upstream.to_string(),
        headers: vec![
            (":method".into(), "GET".into()),
            (":path".into(), "/keys".into()),
            (":scheme".into(), "https".into()),
        ],
        body: Vec::new(),
        trailers: Vec::new(),
        timeout: Duration::from_secs(10),
    }
}

fn clients(addr: SocketAddr, ca_file: Option<std::path::PathBuf>) -> HttpCallouts {
    let mut clusters = BTreeMap::new();
    clusters.insert(
        "idp".to_string(),
        ClusterConfig {
            url: format!("https://{addr}"),
            ca_file,
            timeout_ms: None,
        },
    );
    HttpCallouts::new(&clusters, tokio::runtime::Handle::current()).unwrap()
}

#[tokio::test]
async fn an_https_cluster_with_a_ca_file_reaches_a_server_of_that_ca() {
    let (addr, ca_pem) = tls_server().await;
    let dir = common::scratch_dir("callout-tls");
    let ca_file = dir.join("ca.pem");
    std::fs::write(&ca_file, ca_pem).unwrap();
    match clients(addr, Some(ca_file)).call(callout("idp")).await {
        CalloutResult::Response { headers, body, .. } => {
            assert!(
                headers.contains(&(":status".to_string(), "200".to_string())),
                "{headers:?}"
            );
            assert_eq!(body, br#"{"path":"/keys"}"#);
        }
        CalloutResult::Failed { reason } => panic!("callout failed: {reason}"),
    }
}

#[tokio::test]
async fn an_https_cluster_refuses_a_server_the_webpki_roots_do_not_vouch_for() {
    let (addr, _) = tls_server().await;
    match clients(addr, None).call(callout("idp")).await {
        CalloutResult::Failed { reason } => assert!(reason.contains("TLS"), "{reason}"),
        CalloutResult::Response { headers, .. } => {
            panic!("an unverified server was trusted: {headers:?}")
        }
    }
}
