use std::time::Duration;

use serde_json::{Value, json};

use super::{SUB, url};
use crate::{MockZendesk, OAuthClient, OAuthStats, Request, Response, s256};

fn client(access_ms: u64) -> OAuthClient {
    OAuthClient {
        id: "cdp".into(),
        secret: "client-secret".into(),
        access_ttl: Duration::from_millis(access_ms),
        refresh_ttl: Duration::from_secs(3600),
    }
}

fn token(mock: &MockZendesk, body: Value) -> Response {
    mock.handle(&Request::new("POST", &url("/oauth/tokens")).json_body(&body))
}

fn refresh(mock: &MockZendesk, refresh_token: &str) -> Response {
    token(
        mock,
        json!({"grant_type": "refresh_token", "refresh_token": refresh_token,
               "client_id": "cdp", "client_secret": "client-secret"}),
    )
}

fn me(mock: &MockZendesk, access_token: &str) -> u16 {
    mock.handle(
        &Request::new("GET", &url("/api/v2/users"))
            .header("Authorization", &format!("Bearer {access_token}")),
    )
    .status
}

fn field(response: &Response, key: &str) -> String {
    response.json_body()[key]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn a_refresh_rotates_both_tokens_and_the_old_ones_stop_at_once() {
    let mock = MockZendesk::new();
    mock.register_oauth_client(SUB, client(60_000));
    let first = mock.grant_refresh_token(SUB, "cdp").unwrap();

    let answer = refresh(&mock, &first);
    assert_eq!(answer.status, 200);
    let body = answer.json_body();
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], 60);
    assert_eq!(body["refresh_token_expires_in"], 3600);
    let (access, second) = (
        field(&answer, "access_token"),
        field(&answer, "refresh_token"),
    );
    assert_ne!(second, first);
    assert_eq!(me(&mock, &access), 200);

    // The used refresh token is dead: invalid_grant, and nothing else changes.
    let reused = refresh(&mock, &first);
    assert_eq!(
        (reused.status, field(&reused, "error")),
        (400, "invalid_grant".into())
    );
    assert_eq!(me(&mock, &access), 200);

    // The next rotation ends the access token the second refresh token gave.
    let next = refresh(&mock, &second);
    assert_eq!(next.status, 200);
    assert_eq!(me(&mock, &access), 401);
    assert_eq!(me(&mock, &field(&next, "access_token")), 200);
    assert_eq!(
        mock.oauth_stats(SUB),
        OAuthStats {
            refreshes: 2,
            invalid_grants: 1,
            invalid_tokens: 1,
            ..OAuthStats::default()
        }
    );
}

#[test]
fn an_expired_access_token_gets_zendesks_invalid_token() {
    let mock = MockZendesk::new();
    mock.register_oauth_client(SUB, client(50));
    let refresh_token = mock.grant_refresh_token(SUB, "cdp").unwrap();
    let access = field(&refresh(&mock, &refresh_token), "access_token");
    assert_eq!(me(&mock, &access), 200);
    std::thread::sleep(Duration::from_millis(80));
    let answer = mock.handle(
        &Request::new("GET", &url("/api/v2/users"))
            .header("Authorization", &format!("Bearer {access}")),
    );
    assert_eq!(answer.status, 401);
    assert_eq!(field(&answer, "error"), "invalid_token");
    assert_eq!(me(&mock, "at-forged"), 401);
    assert_eq!(mock.oauth_stats(SUB).invalid_tokens, 2);
}

#[test]
fn client_credentials_give_an_access_token_and_no_refresh_token() {
    let mock = MockZendesk::new();
    mock.register_oauth_client(SUB, client(60_000));
    let answer = token(
        &mock,
        json!({"grant_type": "client_credentials", "client_id": "cdp",
               "client_secret": "client-secret", "scope": "read write"}),
    );
    assert_eq!(answer.status, 200);
    assert!(answer.json_body().get("refresh_token").is_none());
    assert_eq!(me(&mock, &field(&answer, "access_token")), 200);

    let wrong = token(
        &mock,
        json!({"grant_type": "client_credentials", "client_id": "cdp", "client_secret": "nope"}),
    );
    assert_eq!(
        (wrong.status, field(&wrong, "error")),
        (401, "invalid_client".into())
    );
}

#[test]
fn a_revoked_grant_is_invalid_grant_and_ends_its_access_tokens() {
    let mock = MockZendesk::new();
    mock.register_oauth_client(SUB, client(60_000));
    let first = mock.grant_refresh_token(SUB, "cdp").unwrap();
    let answer = refresh(&mock, &first);
    let (access, second) = (
        field(&answer, "access_token"),
        field(&answer, "refresh_token"),
    );
    mock.revoke_refresh_token(SUB, &second);
    assert_eq!(me(&mock, &access), 401);
    assert_eq!(refresh(&mock, &second).status, 400);
}

#[test]
fn an_authorization_code_is_exchanged_once_with_its_pkce_verifier() {
    let mock = MockZendesk::new();
    mock.register_oauth_client(SUB, client(60_000));
    let verifier = "a-long-random-verifier-of-at-least-43-characters-0123456789";
    let redirect = "http://127.0.0.1:8765/callback";
    let code = mock
        .authorize(SUB, "cdp", &s256(verifier), redirect)
        .unwrap();
    let exchange = |verifier: &str| {
        token(
            &mock,
            json!({"grant_type": "authorization_code", "code": code, "client_id": "cdp",
                   "client_secret": "client-secret", "redirect_uri": redirect,
                   "code_verifier": verifier}),
        )
    };
    assert_eq!(
        exchange("the-wrong-verifier").status,
        400,
        "a wrong verifier spends the code"
    );
    let code = mock
        .authorize(SUB, "cdp", &s256(verifier), redirect)
        .unwrap();
    let answer = token(
        &mock,
        json!({"grant_type": "authorization_code", "code": code, "client_id": "cdp",
               "client_secret": "client-secret", "redirect_uri": redirect,
               "code_verifier": verifier}),
    );
    assert_eq!(answer.status, 200);
    assert!(!field(&answer, "refresh_token").is_empty());
    assert_eq!(me(&mock, &field(&answer, "access_token")), 200);
}

#[test]
fn accounts_without_an_oauth_client_take_any_bearer_token_as_before() {
    let mock = MockZendesk::new();
    assert_eq!(me(&mock, "a-fixed-oauth-token"), 200);
}
