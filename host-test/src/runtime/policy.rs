//! The outbound policy: the one place that decides which URLs a tenant's plugin may reach, and
//! the testing override that sends allowed requests to a loopback server instead.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use ureq::http::Uri;

/// The rule named in every denial, so an operator knows what to change.
const RULE: &str = "rule: tenant subdomain";

/// What a tenant may reach: `https://{subdomain}.zendesk.com` and nothing else.
#[derive(Clone, Debug)]
pub struct OutboundPolicy {
    tenant: String,
    subdomain: Option<String>,
}

/// A URL that passed the policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AllowedUrl {
    pub subdomain: String,
    /// Path and query, starting with `/`.
    pub path_and_query: String,
}

impl OutboundPolicy {
    /// The policy for a tenant, from its destination config (`subdomain`, else `domain`). A
    /// config without a usable subdomain allows nothing.
    pub fn for_tenant(tenant: &str, config_json: &str) -> OutboundPolicy {
        OutboundPolicy {
            tenant: tenant.to_string(),
            subdomain: subdomain_from_config(config_json),
        }
    }

    pub fn subdomain(&self) -> Option<&str> {
        self.subdomain.as_deref()
    }

    /// Allows `url` or says why not (the message names the origin, the tenant and the rule; it
    /// never repeats the path or query, which may carry personal data).
    pub fn check(&self, url: &str) -> Result<AllowedUrl, String> {
        let uri: Uri = url
            .parse()
            .map_err(|e| format!("the URL is not a valid absolute URL ({e}) ({RULE})"))?;
        let origin = origin_of(&uri);
        let Some(subdomain) = &self.subdomain else {
            return Err(format!(
                "{origin} is not allowed for tenant {}: its config has no valid `subdomain` \
                 (or `domain`), so no outbound request is allowed ({RULE})",
                self.tenant
            ));
        };
        let allowed_host = format!("{subdomain}.zendesk.com");
        let authority = uri.authority();
        let allowed = uri.scheme_str() == Some("https")
            && authority.is_some_and(|a| {
                !a.as_str().contains('@')
                    && a.host().eq_ignore_ascii_case(&allowed_host)
                    && matches!(a.port_u16(), None | Some(443))
            });
        if !allowed {
            return Err(format!(
                "{origin} is not allowed for tenant {}: only https://{allowed_host} ({RULE})",
                self.tenant
            ));
        }
        let path_and_query = uri
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .filter(|p| p.starts_with('/'))
            .unwrap_or_else(|| "/".to_string());
        Ok(AllowedUrl {
            subdomain: subdomain.clone(),
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

/// The tenant's subdomain, normalised like the guest does: lower-case, scheme and
/// `.zendesk.com` stripped; `None` unless it is a plain DNS label.
fn subdomain_from_config(config_json: &str) -> Option<String> {
    let config: serde_json::Value = serde_json::from_str(config_json).ok()?;
    let raw = ["subdomain", "domain"]
        .iter()
        .filter_map(|key| config.get(key)?.as_str())
        .map(str::trim)
        .find(|value| !value.is_empty())?;
    let lower = raw.to_ascii_lowercase();
    let without_scheme = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))
        .unwrap_or(&lower);
    let host = without_scheme.trim_end_matches('/');
    let label = host.strip_suffix(".zendesk.com").unwrap_or(host);
    let valid = label
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && label
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric());
    valid.then(|| label.to_string())
}

/// A loopback origin (`http://127.0.0.1:PORT`) that allowed requests are sent to instead of
/// Zendesk, for testing against a local mock server. Anything but loopback is refused at parse
/// time: the override must never become a way around the policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    scheme: String,
    host: String,
    port: Option<u16>,
}

impl Origin {
    /// `url`'s path and query on this origin.
    pub fn join(&self, path_and_query: &str) -> String {
        format!("{self}{path_and_query}")
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

impl FromStr for Origin {
    type Err = String;

    fn from_str(text: &str) -> Result<Origin, String> {
        let usage = "expected a loopback origin such as http://127.0.0.1:8080";
        let uri: Uri = text
            .trim()
            .parse()
            .map_err(|e| format!("`{text}` is not a valid origin ({e}); {usage}"))?;
        let scheme = match uri.scheme_str() {
            Some(s @ ("http" | "https")) => s.to_string(),
            _ => {
                return Err(format!(
                    "`{text}` needs an http:// or https:// scheme; {usage}"
                ));
            }
        };
        let Some(authority) = uri.authority() else {
            return Err(format!("`{text}` has no host; {usage}"));
        };
        if authority.as_str().contains('@') {
            return Err(format!("`{text}` must not contain user info; {usage}"));
        }
        let has_path = uri.path_and_query().is_some_and(|p| p.as_str() != "/");
        if has_path {
            return Err(format!(
                "`{text}` must be an origin without a path; {usage}"
            ));
        }
        let host = authority.host().to_ascii_lowercase();
        if !is_loopback(&host) {
            return Err(format!(
                "`{text}` is not a loopback address; the origin override only accepts \
                 127.0.0.0/8, [::1] or localhost"
            ));
        }
        Ok(Origin {
            scheme,
            host,
            port: authority.port_u16(),
        })
    }
}

fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost" || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
#[path = "policy_tests.rs"]
mod tests;
