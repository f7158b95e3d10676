//! The Zendesk destination's host settings, shared by the `destination-fleet` binary and the
//! test host: where a tenant may send, and how a Zendesk account states its rate limit.

use destination_host::OriginTemplate;
use destination_host::pacing::RateLimitHeaders;

/// A Zendesk tenant may reach its own account, and nothing else. A plugin that reports no
/// config facts (contract 0.1.0) is filled from the config's `subdomain`, or RudderStack's
/// `domain`.
pub const ORIGIN: &str = "https://{subdomain|domain}.zendesk.com";

/// Zendesk's OAuth token endpoint, on a tenant's own account.
pub const TOKEN_PATH: &str = "/oauth/tokens";

/// [`ORIGIN`] as the allowed origins.
pub fn origins() -> Vec<OriginTemplate> {
    vec![
        ORIGIN
            .parse()
            .expect("the Zendesk origin template is valid"),
    ]
}

/// Zendesk's rate-limit headers (`X-Rate-Limit`, `X-Rate-Limit-Remaining`), and the IETF
/// draft's that it also sends on some endpoints.
pub fn rate_limit_headers() -> RateLimitHeaders {
    RateLimitHeaders {
        limit: vec!["x-rate-limit".into(), "ratelimit-limit".into()],
        remaining: vec![
            "x-rate-limit-remaining".into(),
            "ratelimit-remaining".into(),
        ],
        reset: vec!["ratelimit-reset".into()],
    }
}
