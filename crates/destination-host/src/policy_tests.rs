use super::*;

fn zendesk() -> Vec<OriginTemplate> {
    vec!["https://{subdomain}.zendesk.com".parse().unwrap()]
}

fn policy(subdomain: &str) -> OutboundPolicy {
    OutboundPolicy::new("t1", &zendesk(), &[("subdomain".into(), subdomain.into())])
}

#[test]
fn the_filled_origin_is_allowed_with_its_path_and_query() {
    let allowed = policy("acme")
        .check("https://acme.zendesk.com/api/v2/users/search?query=a%40b")
        .unwrap();
    assert_eq!(allowed.origin, "https://acme.zendesk.com");
    assert_eq!(allowed.path_and_query, "/api/v2/users/search?query=a%40b");
    assert!(
        policy("acme")
            .check("https://ACME.zendesk.com:443/x")
            .is_ok()
    );
}

#[test]
fn everything_else_is_denied_naming_the_rule() {
    let p = policy("acme");
    for url in [
        "http://acme.zendesk.com/api",
        "https://other.zendesk.com/api",
        "https://acme.zendesk.com.evil.com/api",
        "https://evil.com/acme.zendesk.com",
        "https://user:pw@acme.zendesk.com/api",
        "https://acme.zendesk.com:8443/api",
        "https://127.0.0.1/api",
        "not a url",
        "/api/v2/users",
    ] {
        let denial = p.check(url).unwrap_err();
        assert!(denial.contains("rule: allowed origins"), "{url}: {denial}");
        assert!(!denial.contains("pw"), "{denial}");
    }
}

#[test]
fn a_value_can_never_widen_the_template() {
    for value in [
        "evil.com/x",
        "a.b",
        "acme.zendesk.com",
        "a@b",
        "",
        "-a",
        "a b",
        "é",
    ] {
        let p = policy(value);
        assert!(p.origins().is_empty(), "{value:?}: {:?}", p.origins());
        let denial = p.check("https://evil.com/").unwrap_err();
        assert!(
            denial.contains("DNS label") || denial.contains("no value"),
            "{denial}"
        );
    }
}

#[test]
fn values_are_normalised_to_lower_case() {
    assert_eq!(policy(" Acme ").origins(), ["https://acme.zendesk.com"]);
}

#[test]
fn a_missing_value_or_template_denies_everything_and_says_why() {
    let p = OutboundPolicy::new("t1", &zendesk(), &[]);
    assert!(
        p.check("https://acme.zendesk.com/")
            .unwrap_err()
            .contains("no value for `subdomain`")
    );
    let p = OutboundPolicy::new("t1", &[], &[("subdomain".into(), "acme".into())]);
    assert!(
        p.check("https://acme.zendesk.com/")
            .unwrap_err()
            .contains("no origin templates")
    );
}

#[test]
fn templates_must_be_origins_with_two_fixed_labels() {
    for bad in [
        "acme.zendesk.com",
        "ftp://{s}.zendesk.com",
        "https://{s}",
        "https://{s}.com",
        "https://{s}.zendesk.com/api",
        "https://u@{s}.zendesk.com",
        "https://x{s}.zendesk.com",
        "https://{s}.zendesk.com:port",
    ] {
        assert!(bad.parse::<OriginTemplate>().is_err(), "{bad}");
    }
    let t: OriginTemplate = "https://{subdomain}.zendesk.com:8443".parse().unwrap();
    assert_eq!(t.to_string(), "https://{subdomain}.zendesk.com:8443");
}

#[test]
fn hop_by_hop_and_routing_headers_are_stripped() {
    let mut headers: Vec<(String, String)> = [
        ("Host", "other.zendesk.com"),
        ("Content-Type", "application/json"),
        ("X-Zendesk-Subdomain", "other"),
        ("connection", "close"),
        (" Transfer-Encoding", "chunked"),
        ("Authorization", "Basic x"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let stripped = strip_headers(&mut headers, &["x-zendesk-subdomain".into()]);
    let kept: Vec<&str> = headers.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(kept, ["Content-Type", "Authorization"]);
    assert_eq!(stripped.len(), 4);
}
