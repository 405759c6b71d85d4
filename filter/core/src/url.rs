//! The small part of URL handling the filter needs: absolute `http(s)` URLs split into what a
//! proxy-wasm callout wants (`:scheme`, `:authority`, `:path`) and the `host:port` Kong dispatches to.
//! No userinfo, no fragments, no relative references: anything else is refused, not guessed.

/// An absolute http or https URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpUrl {
    /// `https` or `http`.
    pub scheme: &'static str,
    /// Host as written (a bracketed IPv6 literal keeps its brackets), lower-cased.
    pub host: String,
    pub port: u16,
    /// Whether the port was written explicitly.
    explicit_port: bool,
    /// Path and query, at least `/`.
    pub path: String,
}

impl HttpUrl {
    pub fn parse(s: &str) -> Option<HttpUrl> {
        let (scheme, rest, default_port) = if let Some(r) = strip_prefix_ci(s, "https://") {
            ("https", r, 443)
        } else if let Some(r) = strip_prefix_ci(s, "http://") {
            ("http", r, 80)
        } else {
            return None;
        };
        if s.contains('#') || s.chars().any(|c| c.is_ascii_control() || c == ' ') {
            return None;
        }
        let split = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(split);
        if authority.is_empty() || authority.contains('@') {
            return None;
        }
        let (host, port) = split_host_port(authority)?;
        let path = match path {
            "" => "/".to_string(),
            p if p.starts_with('?') => format!("/{p}"),
            p => p.to_string(),
        };
        Some(HttpUrl {
            scheme,
            host: host.to_ascii_lowercase(),
            port: port.unwrap_or(default_port),
            explicit_port: port.is_some(),
            path,
        })
    }

    /// `:authority` as the URL wrote it (port only when explicit).
    pub fn authority(&self) -> String {
        if self.explicit_port {
            format!("{}:{}", self.host, self.port)
        } else {
            self.host.clone()
        }
    }

    /// `host:port`, always with the port: the callout target Kong's ngx_wasm_module expects.
    pub fn host_port(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// 127.0.0.0/8, `[::1]` or `localhost`: where plain http is tolerated.
    pub fn is_loopback(&self) -> bool {
        self.host == "localhost"
            || self.host == "[::1]"
            || self.host.strip_prefix("127.").is_some_and(|r| {
                r.split('.').count() == 3 && r.split('.').all(|o| o.parse::<u8>().is_ok())
            })
    }

    /// https anywhere, http only on loopback.
    pub fn is_secure_or_loopback(&self) -> bool {
        self.scheme == "https" || self.is_loopback()
    }
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

fn split_host_port(authority: &str) -> Option<(&str, Option<u16>)> {
    let (host, port) = if authority.starts_with('[') {
        let end = authority.find(']')?;
        let (h, rest) = authority.split_at(end + 1);
        match rest {
            "" => (h, None),
            r => (h, Some(r.strip_prefix(':')?)),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    let valid_host = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '[' | ']' | ':'));
    if !valid_host {
        return None;
    }
    let port = match port {
        None => None,
        Some(p) => Some(p.parse::<u16>().ok().filter(|p| *p != 0)?),
    };
    Some((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_an_https_url_for_a_callout() {
        let u = HttpUrl::parse("https://login.example.com/tenant/discovery/v2.0/keys?x=1").unwrap();
        assert_eq!(u.scheme, "https");
        assert_eq!(u.authority(), "login.example.com");
        assert_eq!(u.host_port(), "login.example.com:443");
        assert_eq!(u.path, "/tenant/discovery/v2.0/keys?x=1");
    }

    #[test]
    fn keeps_explicit_ports_and_ipv6_literals() {
        let u = HttpUrl::parse("http://[::1]:8443").unwrap();
        assert_eq!(u.authority(), "[::1]:8443");
        assert_eq!(u.path, "/");
        assert!(u.is_loopback());
    }

    #[test]
    fn refuses_userinfo_fragments_and_other_schemes() {
        for bad in [
            "https://user@idp.example/",
            "https://idp.example/#frag",
            "ftp://idp.example/",
            "https:///path",
            "https://idp.example:0/",
            "https://idp.example:99999/",
            "idp.example/keys",
        ] {
            assert_eq!(HttpUrl::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn loopback_means_loopback_only() {
        assert!(HttpUrl::parse("http://127.0.0.1:9000/")
            .unwrap()
            .is_loopback());
        assert!(HttpUrl::parse("http://localhost/").unwrap().is_loopback());
        assert!(!HttpUrl::parse("http://127.0.0.1.evil.example/")
            .unwrap()
            .is_loopback());
        assert!(!HttpUrl::parse("http://10.0.0.1/")
            .unwrap()
            .is_secure_or_loopback());
    }
}
