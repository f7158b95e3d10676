//! OAuth across processes, with the real parts: the `authorize` command against the HTTP mock
//! (a person's consent, PKCE), then `run` on the stored grant; and three workers sharing OAuth
//! tenants whose tokens expire every 5 s, one of them SIGKILLed, one tenant's grant revoked.

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::fleet::{Worker, binary, dead_letters, produce, start_nats};
use destination_host::HttpTransport;
use host_test::transports::RoutingTransport;
use mock_zendesk::server::serve;
use mock_zendesk::{MockZendesk, OAuthClient};
use serde_json::json;

/// 32 bytes, base64: the operator's key in these tests.
const KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
const KEY_VAR: &str = "CDP_CREDENTIAL_KEY";
const REDIRECT: &str = "http://127.0.0.1:9/callback";

fn client(n: usize, access: Duration) -> OAuthClient {
    OAuthClient {
        id: "cdp".into(),
        secret: format!("client-secret-{n}"),
        access_ttl: access,
        refresh_ttl: Duration::from_secs(3600),
    }
}

/// Fails when any file under `dir` but the tenants file (where the operator put the client
/// secret and first refresh token) holds a token or client secret.
fn assert_no_secret_in(dir: &Path) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.ends_with("tenants.json") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        for secret in ["rt-", "at-", "client-secret-"] {
            assert!(!text.contains(secret), "{secret}... in {}", path.display());
        }
    }
}

#[test]
fn authorize_gets_a_first_refresh_token_that_run_then_lives_on() {
    let mock = MockZendesk::new();
    mock.register_oauth_client("acme", client(0, Duration::from_secs(600)));
    let server = serve(mock.clone(), ([127, 0, 0, 1], 0).into()).unwrap();
    let origin = format!("http://{}", server.addr());
    let dir = tempfile::tempdir().unwrap();
    let tenants = dir.path().join("tenants.json");
    // No refresh token in the config: `authorize` puts the first one in the store.
    let config = json!({"subdomain": "acme", "oauth": {"clientId": "cdp", "clientSecret": "client-secret-0"}});
    std::fs::write(&tenants, json!({"tenants": {"acme": config}}).to_string()).unwrap();
    let store = dir.path().join("credentials.json");

    // `host-test <command>` on the tenants file and store, against the mock, with the key.
    let host_test = |command: &[&str]| {
        let mut host_test = Command::new(binary());
        host_test
            .args(command)
            .arg("--tenants")
            .arg(&tenants)
            .arg("--credential-store")
            .arg(&store)
            .args(["--zendesk-origin", &origin])
            .env(KEY_VAR, KEY);
        host_test
    };
    let mut authorize = host_test(&["authorize", "--tenant", "acme", "--redirect-uri", REDIRECT])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut url = String::new();
    BufReader::new(authorize.stdout.take().unwrap())
        .read_line(&mut url)
        .unwrap();
    let url = url.trim();
    assert!(
        url.starts_with(
            "https://acme.zendesk.com/oauth/authorizations/new?response_type=code&client_id=cdp&"
        ),
        "{url}"
    );
    assert!(url.contains("code_challenge_method=S256"), "{url}");

    // The person opens it, signs in and allows: the browser is sent back with the code.
    let routed = RoutingTransport::new(Arc::new(HttpTransport::new()), origin.parse().unwrap());
    let location = crate::common::consent_redirect(&routed, url);
    assert!(
        location.starts_with(REDIRECT) && location.contains("code="),
        "{location}"
    );
    writeln!(authorize.stdin.take().unwrap(), "{location}").unwrap();
    let output = authorize.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("\"acme\" is authorized"), "{stderr}");
    assert_eq!(mock.oauth_stats("acme").codes, 1);
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(
        std::fs::metadata(&store).unwrap().permissions().mode() & 0o777,
        0o600
    );

    // `run` lives on the stored grant.
    let events = dir.path().join("events.jsonl");
    let lines: Vec<String> = (0..3)
        .map(|u| {
            json!({"tenant": "acme", "event": {"type": "identify", "userId": format!("u{u}"),
                "traits": {"name": format!("User {u}"), "email": format!("u{u}@acme.example")}}})
            .to_string()
        })
        .collect();
    std::fs::write(&events, lines.join("\n")).unwrap();
    let run = host_test(&["run"])
        .arg("--events")
        .arg(&events)
        .output()
        .unwrap();
    let run_err = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{run_err}");
    assert_eq!(mock.account("acme").users.len(), 3);
    let stats = mock.oauth_stats("acme");
    assert_eq!(
        (stats.invalid_grants, stats.invalid_tokens),
        (0, 0),
        "{stats:?}"
    );
    for text in [
        stderr.as_ref(),
        run_err.as_ref(),
        &String::from_utf8_lossy(&run.stdout),
    ] {
        assert!(!text.contains("rt-") && !text.contains("at-"), "{text}");
    }

    // `fields` reads the account with the stored grant too.
    let fields = host_test(&["fields", "--tenant", "acme", "--object", "users", "--json"])
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&fields.stdout);
    assert!(
        fields.status.success(),
        "{}",
        String::from_utf8_lossy(&fields.stderr)
    );
    assert!(listed.contains("\"email\""), "{listed}");
    assert_no_secret_in(dir.path());
}

/// The users (by external id) an account holds.
fn user_ids(mock: &MockZendesk, tenant: &str) -> Vec<String> {
    mock.account(tenant)
        .users
        .iter()
        .filter_map(|u| u.external_id.clone())
        .collect()
}

/// Three workers share 8 OAuth tenants (6 rotating refresh tokens, 2 client credentials) whose
/// access tokens live 5 s, for 30 s of events (six lifetimes). One worker is SIGKILLed mid-stream; one
/// tenant's grant is revoked. Nothing is lost, no refresh token is used twice, the revoked
/// tenant is dead-lettered as `auth` after one refused refresh across the fleet.
#[test]
fn workers_share_refreshes_survive_a_kill_and_name_a_revoked_grant() {
    let Some(nats) = start_nats() else {
        return;
    };
    let mock = MockZendesk::with_faults("rate=1,kinds=slow,slow_ms=100".parse().unwrap());
    let server = serve(mock.clone(), ([127, 0, 0, 1], 0).into()).unwrap();
    let origin = format!("http://{}", server.addr());
    let dir = tempfile::tempdir().unwrap();
    let ids: Vec<String> = (0..8).map(|n| format!("oauth{n}")).collect();
    let mut tenants = serde_json::Map::new();
    for (n, id) in ids.iter().enumerate() {
        mock.register_oauth_client(id, client(n, Duration::from_secs(5)));
        let oauth = match n < 6 {
            true => json!({"clientId": "cdp", "clientSecret": format!("client-secret-{n}"),
                "refreshToken": mock.grant_refresh_token(id, "cdp").unwrap()}),
            false => json!({"clientId": "cdp", "clientSecret": format!("client-secret-{n}"),
                "grantType": "client_credentials", "scope": "read write"}),
        };
        tenants.insert(id.clone(), json!({"subdomain": id, "oauth": oauth}));
    }
    let tenants_path = dir.path().join("tenants.json");
    std::fs::write(&tenants_path, json!({ "tenants": tenants }).to_string()).unwrap();

    // Without the key, a worker refuses to start, naming the tenant and the variable.
    let refused = Command::new(binary())
        .args([
            "worker",
            "--nats",
            &nats.url,
            "--zendesk-origin",
            &origin,
            "--tenants",
        ])
        .arg(&tenants_path)
        .env_remove(KEY_VAR)
        .output()
        .unwrap();
    let refusal = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{refusal}");
    assert!(
        refusal.contains("\"oauth0\"") && refusal.contains(KEY_VAR),
        "{refusal}"
    );

    let extra = [
        "--retry-for",
        "10m",
        "--metrics",
        "127.0.0.1:0",
        "--concurrency",
        "4",
    ];
    let log = |n: usize| dir.path().join(format!("worker{n}.log"));
    let start = |n: usize| {
        Worker::start_with_env(
            &nats.url,
            &tenants_path,
            &origin,
            &extra,
            log(n),
            &[(KEY_VAR, KEY)],
        )
    };
    let (w1, w2, w3) = (start(1), start(2), start(3));

    // A round of events a second for 30 s, each tenant's user `r{round}`.
    const ROUNDS: usize = 30;
    let started = Instant::now();
    let mut revoked_at = None;
    let mut w2 = Some(w2);
    for round in 0..ROUNDS {
        let lines: Vec<String> = ids
            .iter()
            .map(|id| {
                json!({"tenant": id, "event": {"type": "identify", "userId": format!("r{round}"),
                    "messageId": format!("{id}-{round}"),
                    "traits": {"name": format!("User {round}"),
                        "email": format!("r{round}@{id}.example")}}})
                .to_string()
            })
            .collect();
        let events = dir.path().join(format!("events{round}.jsonl"));
        std::fs::write(&events, lines.join("\n")).unwrap();
        let (status, stderr) = produce(&nats.url, &events);
        assert_eq!(status, 0, "{stderr}");
        if round == 10 {
            w2.take().unwrap().kill();
        }
        if round == 18 {
            mock.revoke_all_grants("oauth0");
            revoked_at = Some(round);
        }
        let next = started + Duration::from_secs(round as u64 + 1);
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
    }
    let revoked_at = revoked_at.unwrap();

    // A tenant is settled when each round's event is delivered or dead-lettered (the dead
    // letters of other tenants would show in the checks below). Delivery is at least once: an
    // event the killed worker delivered but never acknowledged comes again, and after the
    // revocation that copy is a dead letter; so both may hold for one round.
    let unsettled = || -> Vec<(String, usize, usize)> {
        let letters = dead_letters(&nats.url, false);
        ids.iter()
            .map(|id| {
                let delivered = user_ids(&mock, id);
                let dead: Vec<&str> = letters
                    .iter()
                    .filter(|l| l["tenant"] == **id)
                    .filter_map(|l| l["event"]["userId"].as_str())
                    .collect();
                let settled = (0..ROUNDS)
                    .filter(|round| {
                        let user = format!("r{round}");
                        delivered.contains(&user) || dead.contains(&user.as_str())
                    })
                    .count();
                (id.clone(), settled, dead.len())
            })
            .filter(|(_, settled, _)| *settled != ROUNDS)
            .collect()
    };
    let waiting = Instant::now();
    while !unsettled().is_empty() {
        if waiting.elapsed() > Duration::from_secs(120) {
            let logs: Vec<String> = [1, 3]
                .map(|n| std::fs::read_to_string(log(n)).unwrap_or_default())
                .into_iter()
                .flat_map(|log| {
                    log.lines()
                        .rev()
                        .take(30)
                        .map(str::to_string)
                        .collect::<Vec<_>>()
                })
                .collect();
            panic!(
                "not every event delivered or dead-lettered in 120 s \
                 (tenant, rounds settled, dead letters): {:?}\n{}",
                unsettled(),
                logs.join("\n")
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let took = started.elapsed();
    let expiries = took.as_secs().div_ceil(5);

    let letters = dead_letters(&nats.url, false);
    for id in &ids[1..] {
        assert_eq!(user_ids(&mock, id).len(), ROUNDS, "{id}");
        let stats = mock.oauth_stats(id);
        assert_eq!(stats.invalid_grants, 0, "{id}: {stats:?}");
        let grants = stats.refreshes + stats.client_credentials;
        assert!(grants <= expiries + 1, "{id}: {stats:?} in {took:?}");
    }
    // The revoked tenant: one refused refresh across the fleet, then `auth` dead letters
    // naming it, for every event from a few seconds after the revocation.
    assert_eq!(mock.oauth_stats("oauth0").invalid_grants, 1);
    assert!(!letters.is_empty());
    for letter in &letters {
        assert_eq!(letter["tenant"], "oauth0", "{letter}");
        assert_eq!(letter["error_class"], "auth", "{letter}");
        let error = letter["error"].as_str().unwrap();
        assert!(
            error.contains("\"oauth0\"") && error.contains("re-authorize"),
            "{error}"
        );
    }
    let delivered = user_ids(&mock, "oauth0");
    for round in revoked_at + 3..ROUNDS {
        assert!(
            !delivered.contains(&format!("r{round}")),
            "r{round} after the revocation"
        );
    }

    let metric = |worker: &Worker, name: &str| -> f64 {
        let log = std::fs::read_to_string(&worker.log).unwrap();
        let url = log
            .lines()
            .find_map(|line| line.split("metrics on ").nth(1))
            .unwrap()
            .trim()
            .to_string();
        let body: String = ureq::get(&url)
            .call()
            .unwrap()
            .body_mut()
            .read_to_string()
            .unwrap();
        body.lines()
            .filter(|line| line.starts_with(name))
            .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    };
    let refreshes: f64 = [&w1, &w3]
        .iter()
        .map(|w| metric(w, "cdp_oauth_refreshes_total"))
        .sum();
    let failures: f64 = [&w1, &w3]
        .iter()
        .map(|w| metric(w, "cdp_oauth_auth_failures_total"))
        .sum();
    assert!(refreshes >= 10.0, "{refreshes}");
    assert!(failures <= 1.0, "{failures}");
    for worker in [w1, w3] {
        assert_eq!(worker.terminate(Duration::from_secs(30)), 0);
    }
    assert_no_secret_in(dir.path());
}
