//! `allowed_outbound_hosts` rules and the check of a request URL against
//! them, as Spin applies them.

/// One parsed `allowed_outbound_hosts` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundRule {
    scheme: Option<String>,
    host: HostPattern,
    port: PortPattern,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    Any,
    Exact(String),
    /// `*.example.com`: any subdomain of the suffix (not the suffix itself).
    Subdomain(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum PortPattern {
    /// No port given: the scheme's default port.
    Default,
    Any,
    Exact(u16),
}

impl OutboundRule {
    /// Parses `scheme://host[:port]`, where scheme, host and port may be `*`
    /// and host may be `*.suffix`. `http://self` is the application itself.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (scheme, rest) = text
            .split_once("://")
            .ok_or_else(|| format!("{text:?} needs a scheme, e.g. \"https://{text}\""))?;
        let scheme = match scheme {
            "*" => None,
            "http" | "https" => Some(scheme.to_string()),
            other => {
                return Err(format!(
                    "{text:?}: scheme {other:?} is not supported (http, https or *)"
                ));
            }
        };
        let rest = rest.trim_end_matches('/');
        if rest.contains('/') {
            return Err(format!(
                "{text:?}: give scheme, host and port only, no path"
            ));
        }
        let (host, port) = match rest.rsplit_once(':') {
            Some((host, "*")) => (host, PortPattern::Any),
            Some((host, port)) => (
                host,
                PortPattern::Exact(
                    port.parse()
                        .map_err(|_| format!("{text:?}: port {port:?} is not a number"))?,
                ),
            ),
            None => (rest, PortPattern::Default),
        };
        let host = match host {
            "" => return Err(format!("{text:?}: missing host")),
            "*" => HostPattern::Any,
            h if h.starts_with("*.") && h.len() > 2 => {
                HostPattern::Subdomain(h[2..].to_ascii_lowercase())
            }
            h if h.contains('*') => {
                return Err(format!(
                    "{text:?}: `*` may only stand for the whole host or its leading labels (`*.example.com`)"
                ));
            }
            h => HostPattern::Exact(h.to_ascii_lowercase()),
        };
        if scheme.is_none() && port == PortPattern::Default {
            return Err(format!("{text:?}: with scheme `*` give a port (or `*`)"));
        }
        Ok(Self { scheme, host, port })
    }

    /// Whether a request to `scheme://host:port` is allowed by this rule.
    pub fn allows(&self, scheme: &str, host: &str, port: u16) -> bool {
        if self.scheme.as_deref().is_some_and(|s| s != scheme) {
            return false;
        }
        let host = host.to_ascii_lowercase();
        let host_ok = match &self.host {
            HostPattern::Any => true,
            HostPattern::Exact(h) => *h == host,
            HostPattern::Subdomain(suffix) => host
                .strip_suffix(suffix.as_str())
                .is_some_and(|prefix| prefix.ends_with('.') && prefix.len() > 1),
        };
        let port_ok = match self.port {
            PortPattern::Any => true,
            PortPattern::Exact(p) => p == port,
            PortPattern::Default => port == default_port(scheme),
        };
        host_ok && port_ok
    }

    /// Whether this rule names the application itself (`http://self`).
    pub fn is_self(&self) -> bool {
        self.host == HostPattern::Exact("self".into())
    }
}

/// The port a URL of `scheme` uses when it gives none.
pub fn default_port(scheme: &str) -> u16 {
    if scheme == "https" { 443 } else { 80 }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allows(rule: &str, scheme: &str, host: &str, port: u16) -> bool {
        OutboundRule::parse(rule)
            .unwrap()
            .allows(scheme, host, port)
    }

    #[test]
    fn exact_host_uses_the_default_port() {
        assert!(allows(
            "https://api.example.com",
            "https",
            "api.example.com",
            443
        ));
        assert!(!allows(
            "https://api.example.com",
            "https",
            "api.example.com",
            8443
        ));
        assert!(!allows(
            "https://api.example.com",
            "http",
            "api.example.com",
            80
        ));
        assert!(!allows("https://api.example.com", "https", "evil.com", 443));
    }

    #[test]
    fn wildcards_match_what_they_say() {
        assert!(allows(
            "http://*.spin.internal",
            "http",
            "admin.spin.internal",
            80
        ));
        assert!(!allows(
            "http://*.spin.internal",
            "http",
            "spin.internal",
            80
        ));
        assert!(!allows(
            "http://*.spin.internal",
            "http",
            "evilspin.internal",
            80
        ));
        assert!(allows("http://localhost:*", "http", "localhost", 9999));
        assert!(allows("*://*:*", "https", "anything", 1));
    }

    #[test]
    fn rejects_malformed_rules() {
        for bad in [
            "example.com",
            "ftp://x",
            "http://",
            "http://a*b.com",
            "http://x:port",
            "*://x",
            "http://x/path",
        ] {
            assert!(OutboundRule::parse(bad).is_err(), "{bad}");
        }
    }
}
