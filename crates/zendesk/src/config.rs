//! The destination config: Segment and RudderStack keys, parsed strictly by type, loosely by
//! presence (unknown keys are ignored, empty strings count as missing).

use crate::outcome::{ConfigFacts, Error};
use crate::settings::{Settings, wrong_type};
use crate::sync_config::SyncSettings;
use base64::Engine as _;
use serde_json::Value;

/// Every key the parser reads. The settings schema must list each of them (unit-tested).
pub const KNOWN_KEYS: &[&str] = &[
    "subdomain",
    "domain",
    "email",
    "apiToken",
    "oauthToken",
    "accessToken",
    "oauth",
    "createUsersAsVerified",
    "skipVerifyEmail",
    "sendGroupCallsWithoutUserId",
    "removeUsersFromOrganization",
    "removeUsersFromOrganizations",
    "updatePrimaryEmail",
    "searchByExternalId",
    "sourceName",
    "events",
    "ticketCreatedEvent",
    "ticketUpdatedEvent",
    "skipUnchangedWithinSeconds",
    "objectType",
    "syncMode",
    "fieldMapping",
    "identifierKey",
    "audienceKey",
    "audienceSyncMode",
    "audienceFieldTag",
    "allowDeletes",
    "tagsMode",
    "customObjectKey",
];

/// The longest `skipUnchangedWithinSeconds` accepted (one day).
const MAX_SKIP_UNCHANGED_SECONDS: u64 = 86_400;

/// `skipUnchangedWithinSeconds` when the config does not set it. Web SDKs send the same identify
/// (and group) on every page load; a second identical write within a minute changes nothing in
/// Zendesk but spends the user's create_or_update allowance (5 a minute). A minute is short
/// enough that an agent's edit in between is rarely overwritten late, and 0 turns it off.
pub const DEFAULT_SKIP_UNCHANGED_SECONDS: u32 = 60;

/// How we authenticate. `Debug` never shows the secret.
#[derive(Clone, PartialEq, Eq)]
pub enum Auth {
    ApiToken {
        email: String,
        token: String,
    },
    OAuth {
        token: String,
    },
    /// An `oauth` grant whose access token the host refreshes and passes to each call as
    /// `oauthToken`; without one, calls cannot be made.
    HostRefreshed,
}

impl Auth {
    /// The `Authorization` header value. Callers must never log it.
    pub fn header_value(&self) -> String {
        let scheme = match self {
            Auth::ApiToken { .. } => "Basic",
            Auth::OAuth { .. } | Auth::HostRefreshed => "Bearer",
        };
        format!("{scheme} {}", self.header_credential())
    }

    /// The header value after the scheme: base64 of `email/token:apiToken`, or the OAuth token.
    fn header_credential(&self) -> String {
        match self {
            Auth::ApiToken { email, token } => {
                base64::engine::general_purpose::STANDARD.encode(format!("{email}/token:{token}"))
            }
            Auth::OAuth { token } => token.clone(),
            Auth::HostRefreshed => String::new(),
        }
    }

    /// The token, then the header credential when that is another string.
    fn secrets(&self) -> Vec<String> {
        let token = match self {
            Auth::ApiToken { token, .. } | Auth::OAuth { token } => token,
            Auth::HostRefreshed => return Vec::new(),
        };
        let mut secrets = vec![token.clone()];
        push_new(&mut secrets, self.header_credential());
        secrets
    }
}

fn push_new(list: &mut Vec<String>, item: String) {
    if !list.contains(&item) {
        list.push(item);
    }
}

/// Every token the config sets (`apiToken`, `oauthToken`, `accessToken`), also those `auth` does
/// not use (an `oauthToken` next to email + `apiToken`): never sent, but still secrets for the
/// host to scrub. `Debug` never shows them.
#[derive(Clone, Default, PartialEq, Eq)]
struct Tokens(Vec<String>);

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<{} redacted>", self.0.len())
    }
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::ApiToken { email, .. } => {
                write!(f, "ApiToken {{ email: {email:?}, token: <redacted> }}")
            }
            Auth::OAuth { .. } => write!(f, "OAuth {{ token: <redacted> }}"),
            Auth::HostRefreshed => write!(f, "HostRefreshed"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `acme` for acme.zendesk.com.
    pub subdomain: String,
    pub auth: Auth,
    pub create_users_as_verified: bool,
    pub skip_verify_email: bool,
    pub send_group_calls_without_user_id: bool,
    pub remove_users_from_organizations: bool,
    pub update_primary_email: bool,
    pub source_name: String,
    /// Track events allowed through; empty = all.
    pub events: Vec<String>,
    pub ticket_created_event: String,
    pub ticket_updated_event: String,
    /// Skip an identify or group identical to one delivered this many seconds ago (0 = never).
    pub skip_unchanged_seconds: u32,
    /// `record` and `audiencelist` events: objects, modes, mapping, audience field.
    pub sync: SyncSettings,
    tokens: Tokens,
}

impl Config {
    pub fn parse(text: &str) -> Result<Config, Error> {
        let value: Value = serde_json::from_str(text)
            .map_err(|e| Error::InvalidConfig(format!("the config is not valid JSON: {e}")))?;
        let Value::Object(map) = value else {
            return Err(Error::InvalidConfig(
                "the config must be a JSON object".into(),
            ));
        };
        let settings = Settings(&map);

        let subdomain = match (settings.string("subdomain")?, settings.string("domain")?) {
            (Some(s), _) | (None, Some(s)) => normalize_subdomain(&s)?,
            (None, None) => {
                return Err(Error::InvalidConfig(
                    "set `subdomain` (or `domain`): your Zendesk subdomain, e.g. `acme` for acme.zendesk.com".into(),
                ));
            }
        };

        let email = settings.string("email")?;
        let api_token = settings.string("apiToken")?;
        let oauth_token = settings.string("oauthToken")?;
        // `accessToken` is only an alias: next to an `oauthToken` it is not type-checked (as
        // before), but a string there is still a secret.
        let access_token = match oauth_token {
            None => settings.string("accessToken")?,
            Some(_) => settings.string("accessToken").ok().flatten(),
        };
        let grant_secrets = oauth_grant_secrets(&settings)?;
        let tokens = Tokens(
            [&api_token, &oauth_token, &access_token]
                .into_iter()
                .flatten()
                .cloned()
                .chain(grant_secrets.iter().flatten().cloned())
                .collect(),
        );
        let oauth = oauth_token.or(access_token);
        let auth = match (email, api_token, oauth, grant_secrets) {
            (Some(email), Some(token), _, _) => Auth::ApiToken { email, token },
            (_, _, Some(token), _) => Auth::OAuth { token },
            (_, _, None, Some(_)) => Auth::HostRefreshed,
            _ => {
                return Err(Error::InvalidConfig(
                    "set email and apiToken, oauth (clientId, clientSecret, refreshToken), or oauthToken".into(),
                ));
            }
        };

        let source_name = settings
            .string("sourceName")?
            .unwrap_or_else(|| "Rudder".into());
        if source_name.trim().eq_ignore_ascii_case("zendesk") {
            return Err(Error::InvalidConfig(
                "`sourceName` cannot be `zendesk`: Zendesk reserves that event source".into(),
            ));
        }

        Ok(Config {
            subdomain,
            auth,
            create_users_as_verified: settings.flag("createUsersAsVerified")?,
            skip_verify_email: settings.flag("skipVerifyEmail")?,
            send_group_calls_without_user_id: settings.flag("sendGroupCallsWithoutUserId")?,
            remove_users_from_organizations: settings.flag("removeUsersFromOrganization")?
                | settings.flag("removeUsersFromOrganizations")?,
            update_primary_email: settings.flag("updatePrimaryEmail")?
                | settings.flag("searchByExternalId")?,
            source_name,
            events: settings.string_list("events")?,
            ticket_created_event: settings
                .string("ticketCreatedEvent")?
                .unwrap_or_else(|| "Ticket Created".into()),
            ticket_updated_event: settings
                .string("ticketUpdatedEvent")?
                .unwrap_or_else(|| "Ticket Updated".into()),
            skip_unchanged_seconds: settings.seconds(
                "skipUnchangedWithinSeconds",
                MAX_SKIP_UNCHANGED_SECONDS,
                DEFAULT_SKIP_UNCHANGED_SECONDS,
            )?,
            sync: SyncSettings::parse(&settings)?,
            tokens,
        })
    }

    /// The config for a call: one whose OAuth grant came without its access token (a host that
    /// does not refresh tokens) cannot make any.
    pub fn parse_for_calls(text: &str) -> Result<Config, Error> {
        let config = Config::parse(text)?;
        if config.auth == Auth::HostRefreshed {
            return Err(Error::InvalidConfig(
                "`oauth` needs a host that refreshes OAuth tokens and passes each call's access \
                 token as `oauthToken`; this host passed none (or use oauthToken)"
                    .into(),
            ));
        }
        Ok(config)
    }

    /// What the host derives its outbound policy and its redaction from: the normalised
    /// subdomain, and every credential form: the token in use, the `Authorization` credential
    /// (Basic base64), then any other token the config sets.
    pub fn facts(&self) -> ConfigFacts {
        let mut secrets = self.auth.secrets();
        for token in &self.tokens.0 {
            push_new(&mut secrets, token.clone());
        }
        ConfigFacts {
            origin_values: vec![("subdomain".into(), self.subdomain.clone())],
            secrets,
        }
    }
}

/// An `oauth` grant's secrets (its `clientSecret` and `refreshToken`, when given), `None`
/// without a grant. The host refreshes with it; the plugin only checks its shape, as the schema
/// does.
fn oauth_grant_secrets(settings: &Settings) -> Result<Option<Vec<String>>, Error> {
    let oauth = match settings.get("oauth") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Object(oauth)) => Settings(oauth),
        Some(_) => return Err(wrong_type("oauth", "an object")),
    };
    let field = |key: &str| {
        oauth
            .string(key)
            .map_err(|_| wrong_type(&format!("oauth.{key}"), "a string"))
    };
    if field("clientId")?.is_none() {
        return Err(Error::InvalidConfig("`oauth.clientId` is required".into()));
    }
    match field("grantType")?.as_deref() {
        None | Some("refresh_token" | "client_credentials") => {}
        Some(_) => {
            return Err(Error::InvalidConfig(
                "`oauth.grantType` must be \"refresh_token\" or \"client_credentials\"".into(),
            ));
        }
    }
    field("scope")?;
    Ok(Some(
        [field("clientSecret")?, field("refreshToken")?]
            .into_iter()
            .flatten()
            .collect(),
    ))
}

/// Accepts `acme`, `ACME`, `acme.zendesk.com` and `https://acme.zendesk.com/`; returns `acme`.
fn normalize_subdomain(raw: &str) -> Result<String, Error> {
    let lower = raw.trim().to_ascii_lowercase();
    // A pasted URL may carry a path ("https://acme.zendesk.com/agent"); a bare name may not.
    let host = match lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))
    {
        Some(url) => url.split('/').next().unwrap_or_default(),
        None => lower.strip_suffix('/').unwrap_or(&lower),
    };
    let subdomain = host.strip_suffix(".zendesk.com").unwrap_or(host);
    let valid = subdomain
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric())
        && subdomain
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if valid {
        Ok(subdomain.to_string())
    } else {
        Err(Error::InvalidConfig(format!(
            "`subdomain` {raw:?} is not a Zendesk subdomain: use letters, digits and hyphens, e.g. `acme` for acme.zendesk.com"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(value: Value) -> Result<Config, Error> {
        Config::parse(&value.to_string())
    }

    fn invalid(value: Value) -> String {
        match parse(value) {
            Err(Error::InvalidConfig(message)) => message,
            other => panic!("expected InvalidConfig, got {other:?}"),
        }
    }

    #[test]
    fn rudderstack_config_with_defaults() {
        let config = parse(
            json!({"domain": "Acme", "email": "a@b.c", "apiToken": "tok",
            "removeUsersFromOrganization": true, "searchByExternalId": true, "unknown": [1]}),
        )
        .unwrap();
        assert_eq!(config.subdomain, "acme");
        assert!(config.remove_users_from_organizations);
        assert!(config.update_primary_email);
        assert!(!config.create_users_as_verified);
        assert_eq!(config.source_name, "Rudder");
        assert_eq!(config.ticket_created_event, "Ticket Created");
        assert_eq!(config.ticket_updated_event, "Ticket Updated");
        assert!(config.events.is_empty());
        // base64("a@b.c/token:tok")
        assert_eq!(config.auth.header_value(), "Basic YUBiLmMvdG9rZW46dG9r");
    }

    #[test]
    fn segment_keys_and_oauth() {
        let config = parse(
            json!({"subdomain": "https://acme.zendesk.com/", "oauthToken": "xyz",
            "removeUsersFromOrganizations": true, "updatePrimaryEmail": true,
            "events": ["Order Completed", ""], "sourceName": "segment"}),
        )
        .unwrap();
        assert_eq!(config.subdomain, "acme");
        assert_eq!(config.auth.header_value(), "Bearer xyz");
        assert!(config.remove_users_from_organizations && config.update_primary_email);
        assert_eq!(config.events, vec!["Order Completed".to_string()]);
        assert_eq!(config.source_name, "segment");
        let config = parse(json!({"subdomain": "acme.zendesk.com", "accessToken": "xyz"})).unwrap();
        assert_eq!(config.subdomain, "acme");
        // The alias is ignored, whatever its type, when `oauthToken` is set.
        let config = parse(json!({"subdomain": "acme", "oauthToken": "xyz", "accessToken": 5}));
        assert_eq!(config.unwrap().auth.header_value(), "Bearer xyz");
        assert!(invalid(json!({"subdomain": "acme", "accessToken": 5})).contains("`accessToken`"));
    }

    #[test]
    fn missing_subdomain_and_credentials() {
        assert!(invalid(json!({"email": "a@b.c", "apiToken": "t"})).contains("subdomain"));
        assert!(
            invalid(json!({"subdomain": "", "email": "a@b.c", "apiToken": "t"}))
                .contains("subdomain")
        );
        assert_eq!(
            invalid(json!({"subdomain": "acme", "email": "a@b.c", "apiToken": ""})),
            "set email and apiToken, oauth (clientId, clientSecret, refreshToken), or oauthToken"
        );
        assert!(
            invalid(json!({"subdomain": "acme/../x", "oauthToken": "t"})).contains("subdomain")
        );
        assert!(invalid(json!({"subdomain": "ac me", "oauthToken": "t"})).contains("subdomain"));
    }

    #[test]
    fn wrong_types_name_the_key() {
        let base = json!({"subdomain": "acme", "oauthToken": "t"});
        for (key, value, expected) in [
            ("createUsersAsVerified", json!("yes"), "boolean"),
            ("skipVerifyEmail", json!(1), "boolean"),
            ("sendGroupCallsWithoutUserId", json!("true"), "boolean"),
            ("removeUsersFromOrganization", json!([]), "boolean"),
            ("searchByExternalId", json!({}), "boolean"),
            ("sourceName", json!(5), "string"),
            ("subdomain", json!(7), "string"),
            ("apiToken", json!(true), "string"),
            ("events", json!("Order Completed"), "list of strings"),
            ("events", json!(["ok", 3]), "list of strings"),
            ("ticketCreatedEvent", json!(["x"]), "string"),
        ] {
            let mut config = base.clone();
            config[key] = value;
            let message = invalid(config);
            assert!(message.contains(&format!("`{key}`")), "{message}");
            assert!(message.contains(expected), "{message}");
        }
    }

    #[test]
    fn not_json_or_not_object() {
        assert!(invalid_text("{").contains("not valid JSON"));
        assert!(invalid_text("[1]").contains("JSON object"));
    }

    fn invalid_text(text: &str) -> String {
        match Config::parse(text) {
            Err(Error::InvalidConfig(m)) => m,
            other => panic!("expected InvalidConfig, got {other:?}"),
        }
    }

    #[test]
    fn source_name_zendesk_is_reserved_and_secrets_stay_hidden() {
        let message =
            invalid(json!({"subdomain": "acme", "oauthToken": "t", "sourceName": " ZenDesk "}));
        assert!(message.contains("sourceName"));
        let config = parse(
            json!({"subdomain": "acme", "email": "a@b.c", "apiToken": "SECRET-1",
            "oauthToken": "SECRET-2", "accessToken": "SECRET-3"}),
        )
        .unwrap();
        let debug = format!("{config:?}");
        for secret in ["SECRET-1", "SECRET-2", "SECRET-3"] {
            assert!(!debug.contains(secret), "{debug}");
        }
    }

    #[test]
    fn an_oauth_grant_is_a_credential_for_validation_and_needs_the_hosts_token_for_calls() {
        let grant = json!({"subdomain": "acme",
            "oauth": {"clientId": "cdp", "clientSecret": "s3cret", "refreshToken": "r3fresh"}});
        let config = parse(grant.clone()).unwrap();
        assert_eq!(config.auth, Auth::HostRefreshed);
        let secrets = config.facts().secrets;
        assert!(
            secrets.contains(&"s3cret".to_string()) && secrets.contains(&"r3fresh".to_string())
        );
        let refused = Config::parse_for_calls(&grant.to_string()).unwrap_err();
        assert!(refused.to_string().contains("oauthToken"), "{refused}");
        // The host's call config: the grant's public part and the access token.
        let call = json!({"subdomain": "acme", "oauth": {"clientId": "cdp"}, "oauthToken": "at-1"});
        let config = Config::parse_for_calls(&call.to_string()).unwrap();
        assert_eq!(config.auth.header_value(), "Bearer at-1");
    }
}
