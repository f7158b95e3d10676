//! A stateful mock of the Zendesk Support API with Zendesk's real semantics (including the harmful
//! ones a destination must avoid), deterministic fault injection, and a request recording.
//!
//! Use it in-process via [`MockZendesk::handle`] or over loopback HTTP via [`server::serve`].
//! State is kept per account (subdomain). See /work/shared/zendesk-api.md Part A for the rules.
//!
//! Endpoints (under `/api/v2`, `.json` suffix optional; every request needs `Authorization`):
//! - users: `POST users/create_or_update`, `POST users`, `GET|PUT users/{id}`,
//!   `GET users?external_id=`, `GET users/show_many`, `GET users/search?external_id=|query=`;
//!   bulk jobs `POST users/create_or_update_many|create_many` (403 unless bulk import is on, see
//!   [`BulkSettings`]), `PUT users/update_many`
//! - jobs: `GET job_statuses/{id}`, `GET job_statuses/show_many?ids=`
//! - identities: `GET|POST users/{id}/identities`, `GET|PUT|DELETE users/{id}/identities/{iid}`,
//!   `PUT users/{id}/identities/{iid}/make_primary|verify`
//! - organizations: `POST organizations/create_or_update`, `POST organizations`,
//!   `GET|PUT organizations/{id}`, `GET organizations`, `GET organizations/search?external_id=|name=`,
//!   `GET organizations/show_many?ids=|external_ids=`, jobs `POST organizations/create_many`,
//!   `PUT organizations/update_many`
//! - memberships: `POST|GET organization_memberships`, job `POST organization_memberships/create_many`, `GET|DELETE organization_memberships/{id}`,
//!   `POST|GET users/{id}/organization_memberships`, `DELETE users/{id}/organization_memberships/{mid}`,
//!   `DELETE users/{id}/organizations/{oid}`, `GET organizations/{id}/organization_memberships`,
//!   `PUT users/{id}/organization_memberships/{mid}/make_default`,
//!   `PUT users/{id}/organizations/{oid}/make_default`
//! - fields: `GET|POST user_fields`, `GET|POST organization_fields`
//! - events: `POST users/{id}/events`
//! - tickets: `POST|GET tickets` (`?external_id=`), `GET|PUT tickets/{id}`, `GET tickets/{id}/comments`
//!
//! Deliberate choices where Zendesk's behaviour is unverified: `verified` applies to the identity
//! named by `email` (a new secondary gets the flag), else to the primary; `skip_verify_email` is read
//! at the top level and inside the wrapper; a ticket needs a requester (no "API agent" default);
//! `event.properties` must be an object; an organization's `url` is the value written to it.

mod account;
mod attrs;
mod custom_objects;
mod deletes;
mod events;
mod faults;
mod fields;
mod http;
mod identities;
mod job_queue;
mod jobs;
mod memberships;
mod model;
mod oauth;
mod organizations;
mod pagination;
mod rate_limit;
mod render;
mod routes;
mod search;
pub mod server;
mod snapshot;
mod system_fields;
mod tags;
mod tickets;
mod time;
mod users;
pub mod workload;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde::Serialize;
use serde_json::{Value, json};

use account::{Account, Call};
pub use faults::{FaultKind, Faults};
use fields::{FieldScope, NewField};
pub use http::{Request, Response};
pub use job_queue::{BulkSettings, MAX_INFLIGHT_JOBS};
pub use model::{
    Comment, CustomFieldValue, FieldDef, Identity, Membership, Organization, Profile, Ticket, User,
    UserEvent,
};
pub use oauth::{OAuthClient, OAuthStats, s256};
pub use snapshot::AccountSnapshot;

/// One request as the mock saw it. Headers are deliberately NOT recorded, so no credential can
/// leak through the recording.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RecordedRequest {
    pub subdomain: String,
    pub method: String,
    /// Path and query exactly as received, e.g. `/api/v2/users/search?query=email%3A...`.
    pub path: String,
    /// The JSON body (a JSON string holding the raw text when the body was not JSON).
    pub body: Option<Value>,
    pub status: u16,
    /// The injected fault's name ("429", "500", "503", "409", "slow"), if any.
    pub fault: Option<String>,
}

#[derive(Default)]
struct Inner {
    accounts: BTreeMap<String, Account>,
    /// (arrival sequence number, record); the status is filled in when the answer is known.
    recorded: Vec<(u64, RecordedRequest)>,
    next_sequence: u64,
    faults: Faults,
    /// Requests seen since the faults were last set: the input of the fault decision.
    fault_counter: u64,
    credentials: HashMap<String, String>,
    /// Accounts with OAuth clients: their token endpoint and bearer check.
    oauth: HashMap<String, oauth::OAuthServer>,
    /// Accounts with a requests-per-minute limit.
    rate_limits: HashMap<String, rate_limit::RateLimit>,
    /// The bulk settings of accounts created from now on.
    default_bulk: BulkSettings,
}

impl Inner {
    /// The account, created on first use.
    fn account(&mut self, subdomain: &str) -> &mut Account {
        let bulk = &self.default_bulk;
        self.accounts
            .entry(subdomain.to_string())
            .or_insert_with(|| {
                let mut account = Account::new(subdomain);
                account.jobs.settings = bulk.clone();
                account
            })
    }

    fn set_recorded_status(&mut self, sequence: u64, status: u16) {
        // Searched from the end: the request is among the latest (keeps long benchmarks linear).
        if let Some((_, record)) = self.recorded.iter_mut().rev().find(|(s, _)| *s == sequence) {
            record.status = status;
        }
    }
}

/// The mock. Cheap to clone: clones share the same state.
#[derive(Clone, Default)]
pub struct MockZendesk {
    inner: Arc<Mutex<Inner>>,
}

/// The account a request is for: `<sub>.zendesk.com`, else the `X-Zendesk-Subdomain` header
/// (loopback testing), else "default".
fn subdomain_of(host: &str, request: &Request) -> String {
    account_of(host, request.header_value("X-Zendesk-Subdomain"))
}

/// [`subdomain_of`], from the host and the `X-Zendesk-Subdomain` header's value.
pub(crate) fn account_of(host: &str, subdomain_header: Option<&str>) -> String {
    if let Some(sub) = host.strip_suffix(".zendesk.com").filter(|s| !s.is_empty()) {
        return sub.to_string();
    }
    subdomain_header
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "default".to_string())
}

fn fault_response(kind: FaultKind, retry_after_seconds: u32) -> Response {
    let retry_after = retry_after_seconds.to_string();
    match kind {
        FaultKind::RateLimited => Response::json(
            429,
            &json!({"error": "APIRateLimitExceeded", "description": "Number of allowed API requests per minute exceeded"}),
        )
        .with_header("Retry-After", &retry_after),
        FaultKind::ServerError => Response::json(
            500,
            &json!({"error": "InternalError", "description": "Something went wrong"}),
        ),
        FaultKind::Unavailable => Response::json(
            503,
            &json!({"error": "DatabaseTimeout", "description": "Database timed out, please retry"}),
        )
        .with_header("Retry-After", &retry_after),
        FaultKind::Conflict => Response::json(
            409,
            &json!({"error": "Conflict", "description": "The resource was modified by a simultaneous request, please retry"}),
        ),
        // Slow answers normally after the delay; it never reaches here.
        FaultKind::Slow => Response::no_content(),
    }
}

impl MockZendesk {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_faults(faults: Faults) -> Self {
        let mock = Self::new();
        mock.set_faults(faults);
        mock
    }

    /// Whether a request may stall (slow faults are on): a server then answers it on a thread
    /// of its own.
    pub fn may_stall(&self) -> bool {
        let inner = self.lock();
        inner.faults.rate > 0.0 && inner.faults.kinds.contains(&FaultKind::Slow)
    }

    /// Replaces the fault settings and restarts the deterministic fault sequence.
    pub fn set_faults(&self, faults: Faults) {
        let mut inner = self.lock();
        inner.faults = faults;
        inner.fault_counter = 0;
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panicking test thread must not take the mock down with it.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Handles one request (see the crate docs for how the account is chosen).
    pub fn handle(&self, request: &Request) -> Response {
        let url = http::split_url(&request.url);
        let subdomain = subdomain_of(&url.host, request);
        let body: Result<Option<Value>, String> = match request.body.is_empty() {
            true => Ok(None),
            false => serde_json::from_slice(&request.body)
                .map(Some)
                .map_err(|e| e.to_string()),
        };
        let recorded_body = match &body {
            Ok(body) => body.clone(),
            Err(_) => Some(Value::String(
                String::from_utf8_lossy(&request.body).into_owned(),
            )),
        };

        let (sequence, fault, faults, rate_headers) = {
            let mut inner = self.lock();
            let sequence = inner.next_sequence;
            inner.next_sequence += 1;
            let admission = inner
                .rate_limits
                .get_mut(&subdomain)
                .map(|limit| limit.admit(std::time::Instant::now()));
            let rate_headers = match admission {
                Some(rate_limit::Admission::Throttled(response)) => {
                    inner.recorded.push((
                        sequence,
                        RecordedRequest {
                            subdomain: subdomain.clone(),
                            method: request.method.to_ascii_uppercase(),
                            path: url.path_and_query.clone(),
                            body: recorded_body,
                            status: 429,
                            fault: Some("rate_limit".to_string()),
                        },
                    ));
                    return response;
                }
                Some(rate_limit::Admission::Admitted(headers)) => headers,
                None => Vec::new(),
            };
            let fault = inner.faults.decide(inner.fault_counter);
            inner.fault_counter += 1;
            inner.recorded.push((
                sequence,
                RecordedRequest {
                    subdomain: subdomain.clone(),
                    method: request.method.to_ascii_uppercase(),
                    path: url.path_and_query.clone(),
                    body: recorded_body,
                    status: 0,
                    fault: fault.map(|f| f.name().to_string()),
                },
            ));
            (sequence, fault, inner.faults.clone(), rate_headers)
        };

        // Faults are decided before any state is touched: a faulted request changes nothing.
        if let Some(kind) = fault {
            if kind == FaultKind::Slow {
                std::thread::sleep(Duration::from_millis(faults.slow_ms));
            } else {
                let response = fault_response(kind, faults.retry_after_seconds);
                self.finish_record(sequence, response.status);
                return response;
            }
        }

        let mut inner = self.lock();
        let mut response = Self::answer(&mut inner, &subdomain, request, &url, body);
        inner.set_recorded_status(sequence, response.status);
        response.headers.extend(rate_headers);
        response
    }

    /// The bulk settings of every account used from now on (e.g. user import on for a server
    /// that stands in for accounts with it enabled).
    pub fn set_default_bulk(&self, settings: BulkSettings) {
        self.lock().default_bulk = settings;
    }

    /// How the account's bulk endpoints behave (user import on or off, job delay, failures).
    pub fn set_bulk(&self, subdomain: &str, settings: BulkSettings) {
        self.with_account(subdomain, |account| account.jobs.settings = settings);
    }

    /// Limits `subdomain` to `per_minute` requests in any rolling minute, as Zendesk's plans do
    /// (200 to 2,500); `None` lifts the limit. Throttled requests are recorded with status 429
    /// and fault `rate_limit`, and change nothing.
    pub fn set_rate_limit(&self, subdomain: &str, per_minute: Option<u32>) {
        let mut inner = self.lock();
        match per_minute {
            Some(limit) => {
                inner
                    .rate_limits
                    .insert(subdomain.to_string(), rate_limit::RateLimit::new(limit));
            }
            None => {
                inner.rate_limits.remove(subdomain);
            }
        }
    }

    fn finish_record(&self, sequence: u64, status: u16) {
        self.lock().set_recorded_status(sequence, status);
    }

    fn answer(
        inner: &mut Inner,
        subdomain: &str,
        request: &Request,
        url: &http::SplitUrl,
        body: Result<Option<Value>, String>,
    ) -> Response {
        if url.path == "/oauth/tokens" && request.method.eq_ignore_ascii_case("POST") {
            let server = inner.oauth.entry(subdomain.to_string()).or_default();
            return server.token(body.ok().flatten());
        }
        if url.path == "/oauth/authorizations/new" && request.method.eq_ignore_ascii_case("GET") {
            let server = inner.oauth.entry(subdomain.to_string()).or_default();
            return server.consent(&http::Query::parse(&url.query));
        }
        let Some(authorization) = request.header_value("Authorization") else {
            return http::unauthorized();
        };
        if let Some(server) = inner.oauth.get_mut(subdomain).filter(|s| s.is_on())
            && let Some(token) = authorization.strip_prefix("Bearer ")
            && !server.admits(token.trim())
        {
            return oauth::invalid_token();
        }
        if let Some(required) = inner.credentials.get(subdomain)
            && required != authorization
        {
            return http::unauthorized();
        }
        let body = match body {
            Ok(body) => body,
            Err(detail) => return http::unparsable_json(&detail),
        };
        let account = inner.account(subdomain);
        jobs::run_due(account);
        let call = Call {
            account,
            query: http::Query::parse(&url.query),
            body,
        };
        routes::route(&request.method, &url.path, call).unwrap_or_else(|error| error)
    }

    /// Every request in arrival order (all accounts).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.lock()
            .recorded
            .iter()
            .map(|(_, r)| r.clone())
            .collect()
    }

    /// How many recorded requests of `subdomain` pass `filter`, without copying them (cheap
    /// enough to poll while a load runs).
    pub fn count_requests_for(
        &self,
        subdomain: &str,
        filter: impl Fn(&RecordedRequest) -> bool,
    ) -> usize {
        self.lock()
            .recorded
            .iter()
            .filter(|(_, r)| r.subdomain == subdomain && filter(r))
            .count()
    }

    pub fn requests_for(&self, subdomain: &str) -> Vec<RecordedRequest> {
        self.lock()
            .recorded
            .iter()
            .filter(|(_, r)| r.subdomain == subdomain)
            .map(|(_, r)| r.clone())
            .collect()
    }

    pub fn clear_requests(&self) {
        self.lock().recorded.clear();
    }

    /// Forgets all accounts and recorded requests (fault settings and credentials stay).
    pub fn reset(&self) {
        let mut inner = self.lock();
        inner.accounts.clear();
        inner.recorded.clear();
    }

    /// A deep copy of one account's state (empty if the account was never used).
    pub fn account(&self, subdomain: &str) -> AccountSnapshot {
        self.lock()
            .accounts
            .get(subdomain)
            .map(|a| a.data.clone())
            .unwrap_or_default()
    }

    /// `{"<sub>": AccountSnapshot, ...}`.
    pub fn state_json(&self) -> Value {
        let inner = self.lock();
        let accounts: serde_json::Map<String, Value> = inner
            .accounts
            .iter()
            .map(|(sub, account)| {
                let state = serde_json::to_value(&account.data).unwrap_or(Value::Null);
                (sub.clone(), state)
            })
            .collect();
        Value::Object(accounts)
    }

    /// From now on only this exact `Authorization` value is accepted for the account (else 401).
    pub fn require_credentials(&self, subdomain: &str, authorization: &str) {
        self.lock()
            .credentials
            .insert(subdomain.to_string(), authorization.to_string());
    }

    /// Registers an OAuth client on the account: from now on its bearer tokens must be live
    /// access tokens from `POST /oauth/tokens`.
    pub fn register_oauth_client(&self, subdomain: &str, client: OAuthClient) {
        self.oauth(subdomain, |server| server.register(client));
    }

    /// A refresh token for `client_id`, as a person's authorization would give (`None` for an
    /// unknown client).
    pub fn grant_refresh_token(&self, subdomain: &str, client_id: &str) -> Option<String> {
        self.oauth(subdomain, |server| server.grant(client_id))
    }

    /// Revokes a refresh token (and the access tokens it gave), as a person can in Zendesk.
    pub fn revoke_refresh_token(&self, subdomain: &str, refresh_token: &str) {
        self.oauth(subdomain, |server| server.revoke(refresh_token));
    }

    /// Revokes every refresh token of the account and the access tokens they gave.
    pub fn revoke_all_grants(&self, subdomain: &str) {
        self.oauth(subdomain, |server| server.revoke_all());
    }

    /// The code a person's consent sends to `redirect_uri` (authorization code with PKCE S256).
    pub fn authorize(
        &self,
        subdomain: &str,
        client_id: &str,
        code_challenge: &str,
        redirect_uri: &str,
    ) -> Option<String> {
        self.oauth(subdomain, |server| {
            server.authorize(client_id, code_challenge, redirect_uri)
        })
    }

    /// What the account's token endpoint and bearer check saw.
    pub fn oauth_stats(&self, subdomain: &str) -> OAuthStats {
        self.oauth(subdomain, |server| server.stats.clone())
    }

    fn oauth<T>(&self, subdomain: &str, f: impl FnOnce(&mut oauth::OAuthServer) -> T) -> T {
        f(self.lock().oauth.entry(subdomain.to_string()).or_default())
    }

    // ---- seeding helpers: the same validation as the API; they panic (with Zendesk's error) on
    // invalid seed data, which is a mistake in the test itself. `try_*` variants return it.

    fn with_account<T>(&self, subdomain: &str, f: impl FnOnce(&mut Account) -> T) -> T {
        f(self.lock().account(subdomain))
    }

    /// `user` has the shape of create_or_update's `"user"` object.
    pub fn try_seed_user(&self, subdomain: &str, user: Value) -> Result<u64, String> {
        let attrs = user
            .as_object()
            .ok_or("the seed user must be a JSON object")?;
        self.with_account(subdomain, |account| {
            let input =
                users::UserInput::from_attrs(attrs, attrs::skip_verify_email(&None, attrs))?;
            users::create_validated(account, input)
        })
        .map_err(seed_error)
    }

    pub fn seed_user(&self, subdomain: &str, user: Value) -> u64 {
        self.try_seed_user(subdomain, user)
            .unwrap_or_else(|e| panic!("seed_user: {e}"))
    }

    /// `org` has the shape of create_or_update's `"organization"` object.
    pub fn try_seed_organization(&self, subdomain: &str, org: Value) -> Result<u64, String> {
        let attrs = org
            .as_object()
            .ok_or("the seed organization must be a JSON object")?;
        self.with_account(subdomain, |account| {
            let input = organizations::OrgInput::from_attrs(attrs)?;
            organizations::create_validated(account, input)
        })
        .map_err(seed_error)
    }

    pub fn seed_organization(&self, subdomain: &str, org: Value) -> u64 {
        self.try_seed_organization(subdomain, org)
            .unwrap_or_else(|e| panic!("seed_organization: {e}"))
    }

    pub fn try_seed_membership(
        &self,
        subdomain: &str,
        user_id: u64,
        organization_id: u64,
    ) -> Result<u64, String> {
        self.with_account(subdomain, |account| {
            memberships::add(account, user_id, organization_id)
        })
        .map_err(seed_error)
    }

    pub fn seed_membership(&self, subdomain: &str, user_id: u64, organization_id: u64) -> u64 {
        self.try_seed_membership(subdomain, user_id, organization_id)
            .unwrap_or_else(|e| panic!("seed_membership: {e}"))
    }

    pub fn seed_user_field(&self, subdomain: &str, key: &str, field_type: &str) -> u64 {
        let title = attrs::humanize(key);
        self.seed_field(
            subdomain,
            FieldScope::User,
            NewField::new(key, &title, field_type),
        )
    }

    pub fn seed_organization_field(&self, subdomain: &str, key: &str, field_type: &str) -> u64 {
        let title = attrs::humanize(key);
        self.seed_field(
            subdomain,
            FieldScope::Organization,
            NewField::new(key, &title, field_type),
        )
    }

    /// A custom ticket field (`text`, `checkbox`, `tagger`...), named by its title.
    pub fn seed_ticket_field(&self, subdomain: &str, title: &str, field_type: &str) -> u64 {
        self.seed_field(
            subdomain,
            FieldScope::Ticket,
            NewField::new("", title, field_type),
        )
    }

    /// Any field definition, as the API's create body would give it: `collection` is
    /// `user_fields`, `organization_fields` or `ticket_fields`; `definition` e.g.
    /// `{"key": "plan", "title": "Plan", "type": "dropdown", "custom_field_options": [...]}`.
    pub fn seed_field_definition(
        &self,
        subdomain: &str,
        collection: &str,
        definition: Value,
    ) -> u64 {
        let scope = match collection {
            "user_fields" => FieldScope::User,
            "organization_fields" => FieldScope::Organization,
            "ticket_fields" => FieldScope::Ticket,
            other => panic!("seed_field_definition: unknown collection {other}"),
        };
        let new = definition
            .as_object()
            .ok_or_else(|| "the definition must be an object".to_string())
            .and_then(|attrs| NewField::parse(attrs).map_err(seed_error))
            .unwrap_or_else(|e| panic!("seeding a field: {e}"));
        self.seed_field(subdomain, scope, new)
    }

    /// A custom object `key` with its fields, as (key, type) pairs (`text`, `integer`...).
    pub fn seed_custom_object(
        &self,
        subdomain: &str,
        key: &str,
        title: &str,
        fields: &[(&str, &str)],
    ) {
        self.with_account(subdomain, |account| {
            custom_objects::define(account, key, title, fields);
            Ok::<(), Response>(())
        })
        .map_err(seed_error)
        .unwrap_or_else(|e| panic!("seeding custom object `{key}`: {e}"));
    }

    fn seed_field(&self, subdomain: &str, scope: FieldScope, new: NewField) -> u64 {
        let title = new.title.clone();
        self.with_account(subdomain, |account| fields::add(account, scope, new))
            .map_err(seed_error)
            .unwrap_or_else(|e| panic!("seeding field `{title}`: {e}"))
    }
}

fn seed_error(response: Response) -> String {
    format!(
        "{} {}",
        response.status,
        String::from_utf8_lossy(&response.body)
    )
}
