use super::*;

fn policy(config: &str) -> OutboundPolicy {
    OutboundPolicy::for_tenant("t1", config)
}

#[test]
fn only_the_tenants_zendesk_origin_is_allowed() {
    let acme = policy(r#"{"subdomain":"acme"}"#);
    let allowed = acme
        .check("https://acme.zendesk.com/api/v2/users/search?query=email%3Aa")
        .expect("own subdomain");
    assert_eq!(allowed.subdomain, "acme");
    assert_eq!(
        allowed.path_and_query,
        "/api/v2/users/search?query=email%3Aa"
    );
    assert!(acme.check("https://ACME.zendesk.com:443/x").is_ok());

    for denied in [
        "http://acme.zendesk.com/api/v2/users",
        "https://other.zendesk.com/api/v2/users",
        "https://acme.zendesk.com.evil.com/api",
        "https://evil.example.com/",
        "https://acme.zendesk.com:8443/api",
        "https://user:pw@acme.zendesk.com/api",
        "https://acme.zendesk.com@evil.com/api",
        "/api/v2/users",
        "not a url",
    ] {
        let why = acme.check(denied).expect_err(denied);
        assert!(why.contains("rule: tenant subdomain"), "{why}");
        assert!(!why.contains("pw"), "userinfo leaked: {why}");
    }
    let why = acme
        .check("https://evil.example.com/x?email=a")
        .expect_err("denied");
    assert_eq!(
        why,
        "https://evil.example.com is not allowed for tenant t1: only https://acme.zendesk.com \
         (rule: tenant subdomain)"
    );
}

#[test]
fn the_subdomain_is_normalised_like_the_guest_does() {
    for config in [
        r#"{"subdomain":"Acme"}"#,
        r#"{"domain":"acme"}"#,
        r#"{"domain":"https://acme.zendesk.com/"}"#,
        r#"{"subdomain":"","domain":"acme.zendesk.com"}"#,
    ] {
        assert_eq!(policy(config).subdomain(), Some("acme"), "{config}");
    }
}

#[test]
fn a_config_without_a_valid_subdomain_allows_nothing() {
    for config in [
        r#"{}"#,
        "not json",
        r#"{"subdomain":"a.b"}"#,
        r#"{"subdomain":7}"#,
    ] {
        let none = policy(config);
        assert_eq!(none.subdomain(), None, "{config}");
        let why = none.check("https://a.zendesk.com/x").expect_err(config);
        assert!(why.contains("no valid `subdomain`"), "{why}");
    }
}

#[test]
fn the_origin_override_accepts_loopback_only() {
    let origin: Origin = "http://127.0.0.1:8080".parse().expect("loopback");
    assert_eq!(
        origin.join("/api/v2/users"),
        "http://127.0.0.1:8080/api/v2/users"
    );
    for ok in [
        "http://127.1.2.3:9",
        "http://localhost:80",
        "http://[::1]:8080/",
    ] {
        assert!(ok.parse::<Origin>().is_ok(), "{ok}");
    }
    for bad in [
        "http://10.0.0.1:8080",
        "http://example.com:8080",
        "https://acme.zendesk.com",
        "ftp://127.0.0.1:21",
        "http://127.0.0.1:8080/api",
        "http://u:p@127.0.0.1:8080",
        "127.0.0.1:8080",
    ] {
        assert!(bad.parse::<Origin>().is_err(), "{bad}");
    }
}
