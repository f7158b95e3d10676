//! The Authorization values a tenant's config must produce (to require them in the mock, and to
//! prove they never leak).

/// `Basic base64("{email}/token:{token}")`, Zendesk's API-token authentication.
pub fn basic_auth(email: &str, token: &str) -> String {
    format!("Basic {}", base64(&format!("{email}/token:{token}")))
}

/// Standard base64 with padding.
pub fn base64(input: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(input)
}
