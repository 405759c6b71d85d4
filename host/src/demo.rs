//! `oidc-host demo`: a local issuer, an echo upstream and the gateway running the embedded filter
//! against them, with curl commands a newcomer can paste. Everything binds to 127.0.0.1 and lives
//! only as long as the process; the client secret is generated per run.

use std::net::SocketAddr;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand_core::{OsRng, RngCore};
use serde_json::json;

use crate::config::{FilterJson, FilterSection, HostConfig, LimitsSection};
use crate::echo::EchoServer;
use crate::issuer::{IssuerClient, IssuerConfig, TestIssuer};
use crate::proxy::{Gateway, GatewayError};

/// The demo's OAuth client id.
pub const DEMO_CLIENT_ID: &str = "demo-client";
/// The `aud` the demo issuer puts in tokens and the filter requires.
pub const DEMO_AUDIENCE: &str = "demo-api";

/// The running demo.
pub struct Demo {
    pub issuer: TestIssuer,
    pub echo: EchoServer,
    pub gateway: Gateway,
    pub client_secret: String,
}

/// The filter configuration the demo runs: `/api/admin` needs scope `admin`, the rest of `/api` a
/// valid token, everything else is open; identity claims are forwarded as headers.
pub fn filter_config(issuer: &TestIssuer) -> serde_json::Value {
    json!({
        "providers": [{
            "name": "demo",
            "issuer": issuer.issuer_url(),
            "cluster": issuer.authority(),
            "audiences": [DEMO_AUDIENCE],
        }],
        "rules": [
            { "path_prefix": "/api/admin", "scopes_required": ["admin"] },
            { "path_prefix": "/api" },
            { "path_prefix": "/", "allow_anonymous": true },
        ],
        "claims_to_headers": {
            "x-auth-subject": "sub",
            "x-auth-client-id": "client_id",
            "x-auth-scope": "scope",
        },
    })
}

/// The host configuration the demo runs with.
pub fn host_config(issuer: &TestIssuer, echo: &EchoServer, listen: SocketAddr) -> HostConfig {
    let filter = serde_json::to_vec(&filter_config(issuer)).unwrap_or_default();
    HostConfig {
        listen,
        upstream: echo.url(),
        workers: Some(2),
        filter: FilterSection {
            config: FilterJson(filter),
            ..FilterSection::default()
        },
        clusters: Default::default(),
        admin: None,
        limits: LimitsSection::default(),
    }
}

impl Demo {
    /// Starts the issuer, the echo upstream and the gateway on `port` (0: any free port).
    pub async fn start(port: u16, wasm: Vec<u8>) -> Result<Demo, GatewayError> {
        let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
        let mut secret = [0u8; 18];
        OsRng.fill_bytes(&mut secret);
        let client_secret = URL_SAFE_NO_PAD.encode(secret);
        let issuer = TestIssuer::start(IssuerConfig {
            bind: loopback,
            audience: DEMO_AUDIENCE.into(),
            token_ttl: Duration::from_secs(3600),
            clients: vec![IssuerClient {
                id: DEMO_CLIENT_ID.into(),
                secret: client_secret.clone(),
                scopes: vec!["read".into(), "admin".into()],
                extra_claims: serde_json::Map::new(),
            }],
        })
        .await
        .map_err(|source| GatewayError::Bind {
            addr: loopback,
            source,
        })?;
        let echo = EchoServer::start(loopback)
            .await
            .map_err(|source| GatewayError::Bind {
                addr: loopback,
                source,
            })?;
        let listen = SocketAddr::from(([127, 0, 0, 1], port));
        let config = host_config(&issuer, &echo, listen);
        let gateway = Gateway::start_with_wasm(&config, wasm).await?;
        Ok(Demo {
            issuer,
            echo,
            gateway,
            client_secret,
        })
    }

    /// Ready-to-paste shell commands for a token, an allowed request, a 401 and a 403.
    pub fn instructions(&self) -> String {
        let gateway = format!("http://{}", self.gateway.addr());
        let token_url = self.issuer.token_endpoint();
        let id = DEMO_CLIENT_ID;
        let secret = &self.client_secret;
        let token = |scope: &str| {
            format!(
                "curl -s -u {id}:{secret} -d grant_type=client_credentials -d scope='{scope}' {token_url} | sed -E 's/.*\"access_token\":\"([^\"]+)\".*/\\1/'"
            )
        };
        format!(
            "OIDC demo running\n\
             \x20 issuer:   {issuer}  (discovery: {issuer}/.well-known/openid-configuration)\n\
             \x20 upstream: {upstream}  (echoes the request it receives as JSON)\n\
             \x20 gateway:  {gateway}  (/api needs a token, /api/admin needs scope admin)\n\n\
             # 1. get a token with scope \"read\"\n\
             TOKEN=$({read})\n\n\
             # 2. allowed: 200, the echo shows the x-auth-* identity headers\n\
             curl -i -H \"Authorization: Bearer $TOKEN\" {gateway}/api/hello\n\n\
             # 3. no token: 401\n\
             curl -i {gateway}/api/hello\n\n\
             # 4. token without scope admin: 403\n\
             curl -i -H \"Authorization: Bearer $TOKEN\" {gateway}/api/admin\n\n\
             # 5. with scope admin: 200\n\
             ADMIN_TOKEN=$({admin})\n\
             curl -i -H \"Authorization: Bearer $ADMIN_TOKEN\" {gateway}/api/admin\n\n\
             Press Ctrl-C to stop.\n",
            issuer = self.issuer.issuer_url(),
            upstream = self.echo.url(),
            read = token("read"),
            admin = token("read admin"),
        )
    }
}
