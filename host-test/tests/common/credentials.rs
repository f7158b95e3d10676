//! The Authorization values a tenant's config must produce (to require them in the mock, and to
//! prove they never leak).

/// `Basic base64("{email}/token:{token}")`, Zendesk's API-token authentication.
pub fn basic_auth(email: &str, token: &str) -> String {
    format!("Basic {}", base64(&format!("{email}/token:{token}")))
}

/// Standard base64 with padding (a dozen lines instead of a dev-dependency).
pub fn base64(input: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in input.as_bytes().chunks(3) {
        let bytes = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = u32::from(bytes[0]) << 16 | u32::from(bytes[1]) << 8 | u32::from(bytes[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
