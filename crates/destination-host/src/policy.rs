//! The outbound policy, as data: a tenant may reach the origins of its templates (e.g.
//! `https://{subdomain}.zendesk.com`), filled from the values its plugin reported for its config,
//! and nothing else. A value must be one DNS label, so no value can widen a template; a plugin
//! chooses the values, never the templates.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use http::Uri;

/// Headers a guest may never set: hop-by-hop headers, and those that choose where a request
/// goes. The transport sets what it needs itself.
const STRIPPED_HEADERS: [&str; 15] = [
    "host",
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
];

/// An allowed origin with `{name}` placeholders for whole host labels, e.g.
/// `https://{subdomain}.zendesk.com`. `{a|b}` is filled by the first of `a`, `b` that has a
/// value (for configs that name it either way).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OriginTemplate {
    scheme: String,
    /// Host labels; a placeholder is `{name}`.
    labels: Vec<String>,
    port: Option<u16>,
}

/// A template that is not an origin pattern.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("origin template `{template}`: {reason}")]
pub struct TemplateError {
    template: String,
    reason: String,
}

impl FromStr for OriginTemplate {
    type Err = TemplateError;

    fn from_str(text: &str) -> Result<OriginTemplate, TemplateError> {
        let error = |reason: &str| TemplateError {
            template: text.to_string(),
            reason: reason.to_string(),
        };
        let (scheme, rest) = text
            .split_once("://")
            .ok_or_else(|| error("needs a scheme, e.g. https://{subdomain}.example.com"))?;
        if scheme != "https" && scheme != "http" {
            return Err(error("the scheme must be https or http"));
        }
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.contains(['/', '?', '#', '@']) {
            return Err(error("must be an origin: no path, query or user info"));
        }
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) => {
                let port = port
                    .parse()
                    .map_err(|_| error("the port is not a number"))?;
                (host, Some(port))
            }
            None => (authority, None),
        };
        let labels: Vec<String> = host.split('.').map(str::to_ascii_lowercase).collect();
        for label in &labels {
            let valid = match placeholder(label) {
                Some(names) => names
                    .split('|')
                    .all(|name| !name.is_empty() && !name.contains(['{', '}'])),
                None => is_dns_label(label),
            };
            if !valid {
                return Err(error(
                    "each host label must be a DNS label or a whole `{name}` placeholder",
                ));
            }
        }
        if labels.iter().filter(|l| placeholder(l).is_none()).count() < 2 {
            // `https://{x}` or `https://{x}.com` would let a value pick almost any host.
            return Err(error(
                "needs at least two fixed labels, e.g. {subdomain}.example.com",
            ));
        }
        Ok(OriginTemplate {
            scheme: scheme.to_string(),
            labels,
            port,
        })
    }
}

impl fmt::Display for OriginTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.scheme, self.labels.join("."))?;
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        Ok(())
    }
}

impl OriginTemplate {
    /// The origin (`scheme://host[:port]`) for `values`, or which placeholder could not be
    /// filled.
    pub fn origin_for(&self, values: &[(String, String)]) -> Result<String, String> {
        let values: HashMap<String, String> = values.iter().cloned().collect();
        self.fill(&values).map(|origin| origin.to_string())
    }

    /// The origin for `values`, or which placeholder could not be filled.
    fn fill(&self, values: &HashMap<String, String>) -> Result<Origin, String> {
        let mut host = Vec::with_capacity(self.labels.len());
        for label in &self.labels {
            match placeholder(label) {
                None => host.push(label.clone()),
                // `{a|b}`: the first of the names with a value (a config may call it either).
                Some(names) => {
                    let mut given = names.split('|').filter_map(|name| values.get(name));
                    let first = given.clone().next();
                    match (given.find(|value| is_dns_label(value)), first) {
                        (Some(value), _) => host.push(value.clone()),
                        (None, Some(_)) => {
                            return Err(format!("`{names}` is not a single DNS label ({self})"));
                        }
                        (None, None) => return Err(format!("no value for `{names}` ({self})")),
                    }
                }
            }
        }
        Ok(Origin {
            scheme: self.scheme.clone(),
            host: host.join("."),
            port: self.port,
        })
    }
}

fn placeholder(label: &str) -> Option<&str> {
    label.strip_prefix('{')?.strip_suffix('}')
}

/// Lower-case letters, digits and inner hyphens, 1 to 63 characters.
fn is_dns_label(label: &str) -> bool {
    let bytes = label.as_bytes();
    (1..=63).contains(&bytes.len())
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes.first() != Some(&b'-')
        && bytes.last() != Some(&b'-')
}

/// A concrete allowed origin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    scheme: String,
    host: String,
    port: Option<u16>,
}

impl Origin {
    fn default_port(&self) -> u16 {
        if self.scheme == "https" { 443 } else { 80 }
    }

    fn matches(&self, uri: &Uri) -> bool {
        let Some(authority) = uri.authority() else {
            return false;
        };
        uri.scheme_str() == Some(self.scheme.as_str())
            && !authority.as_str().contains('@')
            && authority.host().eq_ignore_ascii_case(&self.host)
            && authority.port_u16().unwrap_or(self.default_port())
                == self.port.unwrap_or(self.default_port())
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.scheme, self.host)?;
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        Ok(())
    }
}

/// What one tenant may reach under one plugin version.
#[derive(Clone, Debug)]
pub struct OutboundPolicy {
    tenant: String,
    origins: Vec<Origin>,
    /// Why templates could not be filled (shown when a request is denied).
    unfilled: Vec<String>,
}

/// A URL that passed the policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AllowedUrl {
    /// The origin it matched, e.g. `https://acme.zendesk.com`.
    pub origin: String,
    /// Path and query, starting with `/`.
    pub path_and_query: String,
}

impl OutboundPolicy {
    /// Fills `templates` with `values` (as reported for the tenant's config).
    pub fn new(tenant: &str, templates: &[OriginTemplate], values: &[(String, String)]) -> Self {
        let values: HashMap<String, String> = values
            .iter()
            .map(|(k, v)| (k.clone(), v.trim().to_ascii_lowercase()))
            .collect();
        let mut origins = Vec::new();
        let mut unfilled = Vec::new();
        for template in templates {
            match template.fill(&values) {
                Ok(origin) => origins.push(origin),
                Err(why) => unfilled.push(why),
            }
        }
        OutboundPolicy {
            tenant: tenant.to_string(),
            origins,
            unfilled,
        }
    }

    /// A policy that allows nothing (e.g. while loading a plugin).
    pub fn deny_all(tenant: &str) -> OutboundPolicy {
        OutboundPolicy::new(tenant, &[], &[])
    }

    /// The origins this tenant may reach.
    pub fn origins(&self) -> Vec<String> {
        self.origins.iter().map(ToString::to_string).collect()
    }

    /// Allows `url` or says why not (the message names the origin, the tenant and the rule; it
    /// never repeats the path or query, which may carry personal data).
    pub fn check(&self, url: &str) -> Result<AllowedUrl, String> {
        let uri: Uri = url.parse().map_err(|e| {
            format!("the URL is not a valid absolute URL ({e}) (rule: allowed origins)")
        })?;
        let Some(origin) = self.origins.iter().find(|origin| origin.matches(&uri)) else {
            let allowed = if self.origins.is_empty() {
                let why = if self.unfilled.is_empty() {
                    "no origin templates are configured".to_string()
                } else {
                    self.unfilled.join("; ")
                };
                format!("no origin is allowed: {why}")
            } else {
                format!("only {}", self.origins().join(", "))
            };
            return Err(format!(
                "{} is not allowed for tenant {}: {allowed} (rule: allowed origins)",
                origin_of(&uri),
                self.tenant
            ));
        };
        let path_and_query = uri
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .filter(|p| p.starts_with('/'))
            .unwrap_or_else(|| "/".to_string());
        Ok(AllowedUrl {
            origin: origin.to_string(),
            path_and_query,
        })
    }
}

/// `scheme://authority` of a URL, for messages (userinfo dropped: it could be a credential).
fn origin_of(uri: &Uri) -> String {
    let scheme = uri.scheme_str().unwrap_or("(no scheme)");
    let authority = uri.authority().map_or("(no host)", |a| {
        let text = a.as_str();
        text.rsplit_once('@').map_or(text, |(_, host)| host)
    });
    format!("{scheme}://{authority}")
}

/// Removes the hop-by-hop and routing headers (`routing`: the platform's own) a guest set.
pub fn strip_headers(headers: &mut Vec<(String, String)>, routing: &[String]) -> Vec<String> {
    let mut stripped = Vec::new();
    headers.retain(|(name, _)| {
        let name = name.trim();
        let banned = STRIPPED_HEADERS
            .iter()
            .any(|h| h.eq_ignore_ascii_case(name))
            || routing.iter().any(|h| h.eq_ignore_ascii_case(name));
        if banned {
            stripped.push(name.to_string());
        }
        !banned
    });
    stripped
}

#[cfg(test)]
#[path = "policy_tests.rs"]
mod tests;
