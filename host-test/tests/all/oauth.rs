//! OAuth access tokens for a tenant (`destination_host::credentials::TokenSource`) against the
//! mock's token endpoint: rotation stored before use, one refresh for many callers, a restart
//! on the stored (not the config's, dead) refresh token, a revoked grant named at once, and
//! tokens sealed at rest.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use destination_host::credentials::onboarding::{Authorization, store_authorized};
use destination_host::credentials::{
    AuthError, CredentialKey, CredentialStore, FileCredentialStore, OAuthGrant, TokenSource,
};
use destination_host::{OutboundRequest, Transport};
use host_test::transports::MockTransport;
use mock_zendesk::{MockZendesk, OAuthClient};
use serde_json::{Value, json};

const TOKEN_URL: &str = "https://acme.zendesk.com/oauth/tokens";

fn mock(access_ms: u64) -> MockZendesk {
    let mock = MockZendesk::new();
    mock.register_oauth_client(
        "acme",
        OAuthClient {
            id: "cdp".into(),
            secret: "client-secret-9f2".into(),
            access_ttl: Duration::from_millis(access_ms),
            refresh_ttl: Duration::from_secs(3600),
        },
    );
    mock
}

fn key() -> CredentialKey {
    CredentialKey::from_base64("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=").unwrap()
}

fn store(path: &Path) -> Arc<dyn CredentialStore> {
    Arc::new(FileCredentialStore::open(path, Some(key())).unwrap())
}

fn grant(config: Value) -> OAuthGrant {
    OAuthGrant::from_config(&json!({"oauth": config}))
        .unwrap()
        .unwrap()
}

fn source(mock: &MockZendesk, grant: OAuthGrant, store: Arc<dyn CredentialStore>) -> TokenSource {
    TokenSource::new(
        "acme",
        grant,
        TOKEN_URL,
        store,
        Arc::new(MockTransport::new(mock.clone())),
    )
}

/// The `oauth` object of acme's client with the refresh token `first`.
fn refresh_grant(first: &str) -> Value {
    json!({"clientId": "cdp", "clientSecret": "client-secret-9f2", "refreshToken": first})
}

/// The status of an API call with the token.
fn call(mock: &MockZendesk, token: &str) -> u16 {
    let request = OutboundRequest {
        method: "GET".into(),
        url: "https://acme.zendesk.com/api/v2/users".into(),
        headers: vec![("Authorization".into(), format!("Bearer {token}"))],
        body: None,
    };
    destination_host::bridge::block_on(MockTransport::new(mock.clone()).send(
        &request,
        Duration::from_secs(5),
        1 << 20,
    ))
    .unwrap()
    .status
}

/// Tenant acme on its first refresh token (returned too), with its tokens in a store at
/// `store_path`, over the mock in process.
fn acme_tenant(mock: &MockZendesk, store_path: &Path) -> (destination_host::Tenant, String) {
    let first = mock.grant_refresh_token("acme", "cdp").unwrap();
    let config = json!({"subdomain": "acme", "oauth": refresh_grant(&first)});
    let tokens = source(mock, grant(config["oauth"].clone()), store(store_path));
    let transport = Arc::new(MockTransport::new(mock.clone()));
    let tenant = host_test::zendesk_tenant(
        "acme",
        config.to_string(),
        destination_host::Limits::default(),
        transport,
    )
    .with_token_source(Arc::new(tokens));
    (tenant, first)
}

/// A delivery engine on the component at `wasm`.
fn engine(wasm: &str) -> destination_host::delivery::Engine {
    use destination_host::{PluginSlot, RetryPolicy, Runtime, RuntimeOptions};
    let runtime = Arc::new(Runtime::new(RuntimeOptions::default()).unwrap());
    let plugin = runtime.load_plugin_file(Path::new(wasm)).unwrap();
    destination_host::delivery::Engine::new(
        runtime,
        Arc::new(PluginSlot::new(plugin)),
        RetryPolicy::default(),
    )
}

/// The first attempt at `event`.
fn first_attempt(event: Value) -> destination_host::delivery::Attempt {
    destination_host::delivery::Attempt {
        event: event.to_string(),
        earlier_attempts: 0,
        elapsed: Duration::ZERO,
    }
}

#[test]
fn tokens_that_expire_are_refreshed_ahead_and_rotation_is_stored_first() {
    let mock = mock(1000);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("credentials.json");
    let first = mock.grant_refresh_token("acme", "cdp").unwrap();
    let config = refresh_grant(&first);
    let tokens = source(&mock, grant(config.clone()), store(&path));

    // 4 s of calls every 100 ms on tokens that live 1 s: every call is answered.
    let started = std::time::Instant::now();
    let mut calls = 0;
    while started.elapsed() < Duration::from_secs(4) {
        let token = tokens.access_token().unwrap();
        assert_eq!(call(&mock, &token), 200);
        calls += 1;
        std::thread::sleep(Duration::from_millis(100));
    }
    let stats = mock.oauth_stats("acme");
    let expiries = 4;
    assert!(calls >= 30, "{calls}");
    // About once per token lifetime: never more than the expiries and one.
    assert!(
        (expiries..=expiries + 1).contains(&stats.refreshes),
        "{stats:?}"
    );
    assert_eq!((stats.invalid_grants, stats.invalid_tokens), (0, 0));
    assert_eq!(tokens.stats().refreshes, stats.refreshes);

    // The store holds the rotated tokens, sealed: no token in the file.
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        !text.contains("rt-") && !text.contains("at-"),
        "a token in the file"
    );

    // A restart: the config's refresh token is dead by now, the stored one carries on.
    let restarted = source(&mock, grant(config), store(&path));
    std::thread::sleep(Duration::from_millis(1100));
    let token = restarted.access_token().unwrap();
    assert_eq!(call(&mock, &token), 200);
    assert_eq!(mock.oauth_stats("acme").invalid_grants, 0);
}

#[test]
fn many_callers_share_one_refresh() {
    let mock = mock(60_000);
    let dir = tempfile::tempdir().unwrap();
    let first = mock.grant_refresh_token("acme", "cdp").unwrap();
    let tokens = Arc::new(source(
        &mock,
        grant(refresh_grant(&first)),
        store(&dir.path().join("credentials.json")),
    ));
    let handed: Vec<String> = (0..8)
        .map(|_| {
            let tokens = Arc::clone(&tokens);
            std::thread::spawn(move || tokens.access_token().unwrap())
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|thread| thread.join().unwrap())
        .collect();
    assert!(handed.windows(2).all(|w| w[0] == w[1]), "one token for all");
    assert_eq!(mock.oauth_stats("acme").refreshes, 1);

    // A 401 for that token: one refresh, and a second caller with the same stale token takes
    // the new one.
    let fresh = tokens.after_refusal(&handed[0]).unwrap();
    assert_ne!(fresh, handed[0]);
    assert_eq!(tokens.after_refusal(&handed[0]).unwrap(), fresh);
    assert_eq!(mock.oauth_stats("acme").refreshes, 2);
    assert_eq!(call(&mock, &fresh), 200);
}

#[test]
fn a_revoked_grant_is_named_once_and_not_retried() {
    let mock = mock(300);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("credentials.json");
    let first = mock.grant_refresh_token("acme", "cdp").unwrap();
    let config = refresh_grant(&first);
    let tokens = source(&mock, grant(config.clone()), store(&path));
    tokens.access_token().unwrap();
    // A person revokes the grant in Zendesk: the stored refresh token dies.
    let stored = FileCredentialStore::open(&path, Some(key()))
        .unwrap()
        .load("acme")
        .unwrap()
        .unwrap();
    mock.revoke_refresh_token("acme", stored.tokens.refresh_token.as_deref().unwrap());
    std::thread::sleep(Duration::from_millis(350));
    let error = tokens.access_token().unwrap_err();
    assert!(matches!(error, AuthError::Revoked { .. }), "{error:?}");
    let text = error.to_string();
    assert!(
        text.contains("\"acme\"") && text.contains("re-authorize"),
        "{text}"
    );
    assert!(!text.contains("rt-"), "{text}");
    // Later callers get the same answer without asking again.
    assert!(matches!(
        tokens.access_token(),
        Err(AuthError::Revoked { .. })
    ));
    assert_eq!(mock.oauth_stats("acme").invalid_grants, 1);
    assert_eq!(tokens.stats().auth_failures, 1);

    // The store says the grant is dead: another process does not ask either.
    let other = source(&mock, grant(config.clone()), store(&path));
    assert!(matches!(
        other.access_token(),
        Err(AuthError::Revoked { .. })
    ));
    assert_eq!(mock.oauth_stats("acme").invalid_grants, 1);

    // A person re-authorizes (the onboarding flow writes the store): the running source
    // notices within its recheck and carries on, with no restart.
    let authorization =
        Authorization::start("https://acme.zendesk.com", "cdp", REDIRECT, "read write");
    let code = consent(&mock, &authorization);
    let fresh = authorization
        .exchange(
            "acme",
            &grant(config),
            &code,
            TOKEN_URL,
            &MockTransport::new(mock.clone()),
        )
        .unwrap();
    store_authorized(store(&path).as_ref(), "acme", &fresh).unwrap();
    std::thread::sleep(Duration::from_millis(5100));
    let token = tokens.access_token().unwrap();
    assert_eq!(call(&mock, &token), 200);
    assert_eq!(mock.oauth_stats("acme").codes, 1);
}

const REDIRECT: &str = "http://127.0.0.1:9/callback";

/// A person's consent on the mock's authorization page: the code it sends back.
fn consent(mock: &MockZendesk, authorization: &Authorization) -> String {
    let location =
        crate::common::consent_redirect(&MockTransport::new(mock.clone()), &authorization.url);
    assert!(location.starts_with(REDIRECT), "{location}");
    authorization.code_of(&location).unwrap()
}

/// Two processes (two sources over one store file), four threads each, on tokens that live
/// 1 s: one refresh per lifetime between them, never a refresh token used twice.
#[test]
fn processes_sharing_a_store_take_turns_refreshing() {
    let mock = mock(1000);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("credentials.json");
    let first = mock.grant_refresh_token("acme", "cdp").unwrap();
    let config = refresh_grant(&first);
    let processes: Vec<Arc<TokenSource>> = (0..2)
        .map(|_| Arc::new(source(&mock, grant(config.clone()), store(&path))))
        .collect();
    let started = std::time::Instant::now();
    let threads: Vec<_> = (0..8)
        .map(|n| {
            let tokens = Arc::clone(&processes[n % 2]);
            let mock = mock.clone();
            std::thread::spawn(move || {
                while started.elapsed() < Duration::from_secs(4) {
                    let token = tokens.access_token().unwrap();
                    if call(&mock, &token) == 401 {
                        // Rotated by the other process meanwhile.
                        let token = tokens.after_refusal(&token).unwrap();
                        assert_eq!(call(&mock, &token), 200);
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    let stats = mock.oauth_stats("acme");
    assert_eq!(stats.invalid_grants, 0, "{stats:?}");
    assert!((4..=5).contains(&stats.refreshes), "{stats:?}");
    let asked: u64 = processes.iter().map(|p| p.stats().refreshes).sum();
    assert_eq!(asked, stats.refreshes);
}

#[test]
fn client_credentials_get_a_new_token_when_it_expires() {
    let mock = mock(500);
    let dir = tempfile::tempdir().unwrap();
    let tokens = source(
        &mock,
        grant(
            json!({"clientId": "cdp", "clientSecret": "client-secret-9f2",
            "grantType": "client_credentials", "scope": "read write"}),
        ),
        store(&dir.path().join("credentials.json")),
    );
    let first = tokens.access_token().unwrap();
    assert_eq!(call(&mock, &first), 200);
    std::thread::sleep(Duration::from_millis(450));
    let second = tokens.access_token().unwrap();
    assert_ne!(first, second);
    assert_eq!(call(&mock, &second), 200);
    assert_eq!(mock.oauth_stats("acme").client_credentials, 2);

    // A wrong secret is a dead grant, named.
    let wrong = source(
        &mock,
        grant(
            json!({"clientId": "cdp", "clientSecret": "nope", "grantType": "client_credentials"}),
        ),
        store(&dir.path().join("other.json")),
    );
    assert!(matches!(
        wrong.access_token(),
        Err(AuthError::Revoked { .. })
    ));
}

#[test]
fn grant_errors_name_the_key_and_never_a_value() {
    let error = |oauth: Value| OAuthGrant::from_config(&json!({"oauth": oauth})).unwrap_err();
    assert_eq!(
        error(json!("x")),
        "`oauth` must be an object with clientId and clientSecret"
    );
    assert_eq!(
        error(json!({"clientSecret": "s3cret", "refreshToken": "r"})),
        "`oauth.clientId` is required"
    );
    // Without a refresh token in the config, the store holds it (`authorize` put it there).
    assert!(
        OAuthGrant::from_config(&json!({"oauth": {"clientId": "c", "clientSecret": "s"}})).is_ok()
    );
    assert_eq!(
        error(json!({"clientId": "c", "clientSecret": 5, "grantType": "client_credentials"})),
        "`oauth.clientSecret` must be a string"
    );
    assert!(
        error(json!({"clientId": "c", "clientSecret": "s", "grantType": "password"}))
            .contains("grantType")
    );
    assert_eq!(OAuthGrant::from_config(&json!({"apiToken": "t"})), Ok(None));
    let grant =
        grant(json!({"clientId": "c", "clientSecret": "s3cret", "refreshToken": "r3fresh"}));
    assert!(!format!("{grant:?}").contains("s3cret") && !format!("{grant:?}").contains("r3fresh"));
}

/// `run` with 8 OAuth tenants (6 on rotating refresh tokens, 2 on client credentials) whose
/// access tokens live 10 s, against an account answering in 500 ms, so the stream lasts over a
/// minute; then again with the same tenants file and store (whose refresh tokens died in the
/// first run); then with one tenant's grant revoked.
#[test]
fn run_keeps_oauth_tenants_logged_in_across_expiries_and_restarts() {
    use host_test::runner::{self, PluginSource, RunOptions, Target};

    let mock = MockZendesk::with_faults("rate=1,kinds=slow,slow_ms=500".parse().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let store_path = dir.path().join("credentials.json");
    let ids: Vec<String> = (0..8).map(|n| format!("oauth{n}")).collect();
    let mut tenants = serde_json::Map::new();
    for (n, id) in ids.iter().enumerate() {
        mock.register_oauth_client(
            id,
            OAuthClient {
                id: "cdp".into(),
                secret: format!("client-secret-{n}"),
                access_ttl: Duration::from_secs(10),
                refresh_ttl: Duration::from_secs(3600),
            },
        );
        let oauth = match n < 6 {
            true => json!({"clientId": "cdp", "clientSecret": format!("client-secret-{n}"),
                "refreshToken": mock.grant_refresh_token(id, "cdp").unwrap()}),
            false => json!({"clientId": "cdp", "clientSecret": format!("client-secret-{n}"),
                "grantType": "client_credentials", "scope": "read write"}),
        };
        tenants.insert(id.clone(), json!({"subdomain": id, "oauth": oauth}));
    }
    let manifest = json!({ "tenants": tenants }).to_string();
    // Interleaved, so every tenant is busy all along.
    let stream = |round: usize, users: usize| -> String {
        (0..users)
            .flat_map(|u| {
                ids.iter().map(move |id| {
                    json!({"tenant": id, "event": {"type": "identify", "userId": format!("u{round}-{u}"),
                        "traits": {"name": format!("User {u}"), "email": format!("u{round}-{u}@example.com")}}})
                    .to_string()
                })
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    let run = |round: usize, users: usize| {
        let mut options = RunOptions::new(
            manifest.clone(),
            stream(round, users),
            Target::Mock(mock.clone()),
        );
        options.plugin = PluginSource::File(env!("ZENDESK_WASM").into());
        options.credential_store = Some(store_path.clone());
        options.credential_key = Some(key());
        options.dead_letter = Some(dir.path().join(format!("dead{round}.jsonl")));
        options.trace = Some(dir.path().join(format!("trace{round}.jsonl")));
        options.concurrency = 4;
        let started = std::time::Instant::now();
        let summary = runner::run(options).expect("the run completes");
        (summary, started.elapsed())
    };

    // 8 tenants x 64 users, 4 calls of 500 ms at a time: about 64 s.
    let (first, took) = run(1, 64);
    assert_eq!(
        (first.delivered, first.dead_lettered),
        (512, 0),
        "{first:#?}"
    );
    assert!(took >= Duration::from_secs(60), "{took:?}");
    let expiries = took.as_secs().div_ceil(10);
    for id in &ids {
        let stats = mock.oauth_stats(id);
        assert_eq!(mock.account(id).users.len(), 64, "{id}");
        let grants = stats.refreshes + stats.client_credentials;
        assert!(
            (expiries - 1..=expiries + 1).contains(&grants),
            "{id}: {stats:?} in {took:?}"
        );
        assert_eq!(stats.invalid_grants, 0, "{id}");
        assert!(stats.invalid_tokens <= expiries, "{id}: {stats:?}");
    }

    // A restart: the configs' refresh tokens are dead, the store carries on.
    let (second, _) = run(2, 4);
    assert_eq!(
        (second.delivered, second.dead_lettered),
        (32, 0),
        "{second:#?}"
    );
    assert!(
        ids.iter()
            .all(|id| mock.oauth_stats(id).invalid_grants == 0)
    );

    // A person revokes tenant oauth0's grant: its events are dead letters of class `auth`,
    // naming it, after one refused refresh; the others are untouched.
    let stored = FileCredentialStore::open(&store_path, Some(key())).unwrap();
    let current = stored.load("oauth0").unwrap().unwrap().tokens;
    mock.revoke_refresh_token("oauth0", current.refresh_token.as_deref().unwrap());
    let (third, _) = run(3, 4);
    assert_eq!(
        (third.delivered, third.dead_lettered),
        (28, 4),
        "{third:#?}"
    );
    assert_eq!(mock.oauth_stats("oauth0").invalid_grants, 1);
    let letters = std::fs::read_to_string(dir.path().join("dead3.jsonl")).unwrap();
    for line in letters.lines() {
        let letter: Value = serde_json::from_str(line).unwrap();
        assert_eq!(
            (letter["tenant"].as_str(), letter["error_class"].as_str()),
            (Some("oauth0"), Some("auth"))
        );
        let error = letter["error"].as_str().unwrap();
        assert!(
            error.contains("\"oauth0\"") && error.contains("re-authorize"),
            "{error}"
        );
    }

    // No token or client secret in any file the runs wrote, nor in the store.
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        for secret in ["rt-", "at-", "client-secret-"] {
            assert!(!text.contains(secret), "{secret}... in {}", path.display());
        }
    }
}

/// A token that expires while the destination is slow is an expiry, not a refusal: the 401 is
/// answered with a new token and the event sent again, and when that token too expires before
/// the destination reads it (calls of 1.3 s, tokens of 1 s), the event waits for a retry; it is
/// never a dead letter, and the grant is never declared dead.
#[test]
fn a_token_that_expires_during_a_slow_call_is_retried_not_dead_lettered() {
    use destination_host::delivery::{Attempted, Settlement};

    let mock = mock(1_000);
    mock.set_faults("rate=1,kinds=slow,slow_ms=1300".parse().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let (tenant, _) = acme_tenant(&mock, &dir.path().join("c.json"));
    let identify = first_attempt(json!({"type": "identify", "userId": "u1",
        "traits": {"name": "Ada", "email": "ada@example.com"}}));
    let Attempted::Called(call) = engine(env!("ZENDESK_WASM")).attempt(&tenant, &[identify]) else {
        panic!("not paced");
    };
    let result = &call.results[0];
    assert!(
        matches!(result.settlement, Settlement::RetryAfter(_)),
        "{:?}: {:?}",
        result.settlement,
        result.failure
    );
    // Two API calls, each refused for its expired token; two grants, none refused.
    let statuses: Vec<(String, u16)> = mock
        .requests_for("acme")
        .into_iter()
        .map(|r| {
            (
                r.path.split('?').next().unwrap_or_default().to_string(),
                r.status,
            )
        })
        .collect();
    assert_eq!(
        statuses
            .iter()
            .filter(|(path, _)| path != "/oauth/tokens")
            .count(),
        2,
        "{statuses:?}"
    );
    assert!(
        statuses
            .iter()
            .all(|(path, status)| (path == "/oauth/tokens") == (*status == 200)),
        "{statuses:?}"
    );
    let stats = mock.oauth_stats("acme");
    assert_eq!(
        (stats.refreshes, stats.invalid_grants, stats.invalid_tokens),
        (2, 0, 2)
    );
    assert!(mock.account("acme").users.is_empty());
}

/// A plugin gets the access token and nothing else of the grant: a guest that sends its whole
/// config out carries no client secret and no refresh token.
#[test]
fn a_plugin_never_sees_the_grants_secrets() {
    use destination_host::delivery::Attempted;

    let mock = mock(60_000);
    let dir = tempfile::tempdir().unwrap();
    let (tenant, first) = acme_tenant(&mock, &dir.path().join("c.json"));
    let leak = first_attempt(json!({"type": "leak", "url": "https://acme.zendesk.com/api/v2/x"}));
    let Attempted::Called(call) = engine(env!("ADVERSARY_WASM")).attempt(&tenant, &[leak]) else {
        panic!("not paced");
    };
    // What the plugin sent (the host's own token request aside).
    let plugin_requests: Vec<_> = mock
        .requests_for("acme")
        .into_iter()
        .filter(|r| r.path != "/oauth/tokens")
        .collect();
    let sent = format!("{plugin_requests:?}");
    assert!(sent.contains("\"clientId\""), "the config went out");
    assert!(
        !sent.contains("client-secret-9f2") && !sent.contains(&first),
        "a grant secret went out"
    );
    // What the engine returns has no token at all.
    let returned = format!("{call:?}");
    assert!(
        !returned.contains("at-") && !returned.contains("client-secret"),
        "{returned}"
    );
}

/// The contract gives a plugin no credential capability: its tenant's access token is all it
/// holds. The adversary, as tenant acme, goes after tenant beta's tokens (same store, same
/// process): beta's token endpoint is outside acme's origins, and acme's config names no other
/// tenant. Beta's stored tokens and account are untouched.
#[test]
fn the_adversary_cannot_reach_another_tenants_tokens() {
    use destination_host::Limits;
    use destination_host::delivery::Attempted;

    let mock = mock(60_000);
    mock.register_oauth_client(
        "beta",
        OAuthClient {
            id: "cdp".into(),
            secret: "client-secret-beta".into(),
            access_ttl: Duration::from_secs(60),
            refresh_ttl: Duration::from_secs(3600),
        },
    );
    let dir = tempfile::tempdir().unwrap();
    let shared = store(&dir.path().join("c.json"));
    let transport: Arc<dyn Transport> = Arc::new(MockTransport::new(mock.clone()));
    let tenant_of = |id: &str, secret: &str| {
        let first = mock.grant_refresh_token(id, "cdp").unwrap();
        let config = json!({"subdomain": id,
            "oauth": {"clientId": "cdp", "clientSecret": secret, "refreshToken": first}});
        let url = format!("https://{id}.zendesk.com/oauth/tokens");
        let tokens = TokenSource::new(
            id,
            grant(config["oauth"].clone()),
            url,
            Arc::clone(&shared),
            Arc::clone(&transport),
        );
        host_test::zendesk_tenant(
            id,
            config.to_string(),
            Limits::default(),
            Arc::clone(&transport),
        )
        .with_token_source(Arc::new(tokens))
    };
    let acme = tenant_of("acme", "client-secret-9f2");
    let beta = tenant_of("beta", "client-secret-beta");
    let (_, beta_token) = beta.authorized().unwrap();
    let beta_before = shared.load("beta").unwrap().unwrap();
    let beta_requests = mock.requests_for("beta").len();

    let engine = engine(env!("ADVERSARY_WASM"));
    let attacks = [
        json!({"type": "fetch", "url": "https://beta.zendesk.com/oauth/tokens"}),
        json!({"type": "fetch", "url": "https://beta.zendesk.com/api/v2/users/me"}),
        json!({"type": "leak", "url": "https://acme.zendesk.com/api/v2/x"}),
    ];
    for attack in attacks {
        let Attempted::Called(call) = engine.attempt(&acme, &[first_attempt(attack)]) else {
            panic!("not paced");
        };
        let seen = format!("{call:?}");
        assert!(!seen.contains(beta_token.as_deref().unwrap()), "{seen}");
    }
    // Nothing reached beta's account, and its stored tokens are as they were.
    assert_eq!(mock.requests_for("beta").len(), beta_requests);
    assert_eq!(shared.load("beta").unwrap().unwrap(), beta_before);
    // What acme's plugin sent (the host's own token requests aside) carries no other token
    // and no secret.
    let plugin_requests: Vec<_> = mock
        .requests_for("acme")
        .into_iter()
        .filter(|r| r.path != "/oauth/tokens")
        .collect();
    let sent = format!("{plugin_requests:?}");
    assert!(!sent.contains(beta_token.as_deref().unwrap()));
    assert!(!sent.contains("client-secret"), "a client secret went out");
}
