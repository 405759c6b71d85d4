//! What the core sees of a request and what it answers. Plain data, no behaviour beyond helpers.

/// A request as the adapter sees it at the request-headers phase.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// `:method`.
    pub method: String,
    /// `:path`, including any query string.
    pub path: String,
    /// All request headers in arrival order. Names may be in any case (Kong keeps the client's case,
    /// Envoy lower-cases): compare names case-insensitively.
    pub headers: Vec<(String, String)>,
    /// `source.address` (`ip:port`) when the host provides it.
    pub source: Option<String>,
}

impl Request {
    /// All values of a header, matched case-insensitively, in order.
    pub fn header_values<'a, 'n>(
        &'a self,
        name: &'n str,
    ) -> impl Iterator<Item = &'a str> + use<'a, 'n> {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The first value of a header, matched case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.header_values(name).next()
    }

    /// The path without its query string.
    pub fn path_only(&self) -> &str {
        self.path
            .split_once('?')
            .map_or(self.path.as_str(), |(p, _)| p)
    }
}

/// The answer to a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Let it through to the upstream after applying these changes.
    Allow(Allow),
    /// Answer it locally.
    Deny(Deny),
    /// Hold it: keys, a token response or an introspection answer are being fetched. The answer comes later as an `Effect::Resolve`.
    Pause,
}

/// Changes to apply to an allowed request, in this order: remove, then set, then path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Allow {
    /// Header names to remove (case-insensitive): forged identity headers, a stripped credential.
    pub remove_headers: Vec<String>,
    /// Headers to set (replacing any value).
    pub set_headers: Vec<(String, String)>,
    /// A new `:path` when the credential was removed from the query string.
    pub new_path: Option<String>,
    /// Headers to add to the upstream's response (`set-cookie` when a session cookie is rewritten);
    /// several with the same name are several headers.
    pub response_headers: Vec<(String, String)>,
}

/// A local reply: a refusal, or a redirect of the login flow (302 with `location` and
/// `set-cookie` headers; a name may appear several times).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deny {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}
