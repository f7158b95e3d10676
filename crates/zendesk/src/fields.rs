//! Custom fields (user_fields / organization_fields): trait names normalised to valid Zendesk keys,
//! and the field definitions listed (all pages), cached, and created once when missing.

use crate::client::Client;
use crate::host::Level;
use crate::outcome::Error;
use heck::ToSnakeCase as _;
use serde_json::{Map, Value, json};
use std::collections::BTreeSet;

/// How long a listed set of field keys is trusted.
const FIELDS_TTL_SECONDS: u32 = 3600;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldScope {
    User,
    Organization,
}

impl FieldScope {
    pub fn collection(self) -> &'static str {
        match self {
            FieldScope::User => "user_fields",
            FieldScope::Organization => "organization_fields",
        }
    }

    fn item(self) -> &'static str {
        match self {
            FieldScope::User => "user_field",
            FieldScope::Organization => "organization_field",
        }
    }

    fn cache_key(self) -> &'static str {
        match self {
            FieldScope::User => "fields:user",
            FieldScope::Organization => "fields:organization",
        }
    }
}

/// The custom-field values among `traits`: scalar traits not in `reserved`, under their trait
/// names (resolved to field keys by [`ensure_defined`]). Traits that cannot become fields are
/// skipped with a log line; they never fail the event.
pub fn custom_field_values(
    client: &Client,
    traits: &Map<String, Value>,
    reserved: &[&str],
) -> Map<String, Value> {
    let mut values = Map::new();
    for (name, value) in traits {
        if reserved.contains(&name.as_str()) {
            continue;
        }
        if !matches!(value, Value::String(_) | Value::Number(_) | Value::Bool(_)) {
            client.debug(
                "trait is not a scalar: not sent as a custom field",
                &[("trait", name)],
            );
            continue;
        }
        if normalize_key(name).is_none() {
            client.log(
                Level::Warn,
                "trait name cannot become a Zendesk field key (empty or only digits): skipped",
                &[("trait", name)],
            );
            continue;
        }
        values.insert(name.clone(), value.clone());
    }
    values
}

/// The existing field a trait maps to, in the seeds' order: the exact key, the snake_case key,
/// then a case-insensitive match of either. `None`: no such field yet.
pub(crate) fn existing_key<'k>(known: &'k BTreeSet<String>, name: &str) -> Option<&'k String> {
    let snake = normalize_key(name)?;
    known.get(name).or_else(|| known.get(&snake)).or_else(|| {
        known
            .iter()
            .find(|k| k.eq_ignore_ascii_case(name) || k.eq_ignore_ascii_case(&snake))
    })
}

/// `planName`, `plan_name`, `Plan Name`, `plan-name` -> `plan_name`; `HTMLParser` -> `html_parser`.
/// `None` when nothing usable is left or the key is only digits (Zendesk refuses those).
///
/// Latin diacritics are folded first (`größe` -> `grosse`), anything else that is not an ASCII
/// letter or digit separates words, and heck splits and joins the words in snake_case.
pub fn normalize_key(name: &str) -> Option<String> {
    let mut ascii = String::with_capacity(name.len() + 4);
    for c in name.chars() {
        let mut buffer = [0; 4];
        let folded = fold_to_ascii(c).unwrap_or_else(|| c.encode_utf8(&mut buffer));
        for c in folded.chars() {
            // Compatibility with the keys created before heck: an uppercase letter after a digit
            // always starts a word (`2FA` -> `2_fa`, `A2B` -> `a2_b`); heck alone joins them
            // (`2fa`, `a2b`) unless a lowercase letter came before the digit.
            if c.is_ascii_uppercase() && ascii.ends_with(|p: char| p.is_ascii_digit()) {
                ascii.push('_');
            }
            ascii.push(if c.is_ascii_alphanumeric() { c } else { '_' });
        }
    }
    let key = ascii.to_snake_case();
    let usable = !key.is_empty() && !key.bytes().all(|b| b.is_ascii_digit());
    usable.then_some(key)
}

/// Latin letters with diacritics as their ASCII base (`ö` -> `o`, `ß` -> `ss`), so that `größe`
/// and `grüße` do not both collapse to `gr_e`. `None` for every other character (kept as it is).
fn fold_to_ascii(c: char) -> Option<&'static str> {
    if c.is_ascii() {
        // The common case, on every event's trait names: no table lookup.
        return None;
    }
    const FOLDS: &[(&str, &str)] = &[
        ("àáâãäåāăą", "a"),
        ("ÀÁÂÃÄÅĀĂĄ", "A"),
        ("çćčĉċ", "c"),
        ("ÇĆČĈĊ", "C"),
        ("ďđ", "d"),
        ("ĎĐ", "D"),
        ("èéêëēĕėęě", "e"),
        ("ÈÉÊËĒĔĖĘĚ", "E"),
        ("ğĝġģ", "g"),
        ("ĞĜĠĢ", "G"),
        ("ìíîïīĭįı", "i"),
        ("ÌÍÎÏĪĬĮİ", "I"),
        ("łľĺļ", "l"),
        ("ŁĽĹĻ", "L"),
        ("ñńňņ", "n"),
        ("ÑŃŇŅ", "N"),
        ("òóôõöøōŏő", "o"),
        ("ÒÓÔÕÖØŌŎŐ", "O"),
        ("řŕŗ", "r"),
        ("ŘŔŖ", "R"),
        ("śšşŝș", "s"),
        ("ŚŠŞŜȘ", "S"),
        ("ťţț", "t"),
        ("ŤŢȚ", "T"),
        ("ùúûüūŭůűų", "u"),
        ("ÙÚÛÜŪŬŮŰŲ", "U"),
        ("ýÿ", "y"),
        ("ÝŸ", "Y"),
        ("źżž", "z"),
        ("ŹŻŽ", "Z"),
        ("ß", "ss"),
        ("æ", "ae"),
        ("Æ", "Ae"),
        ("œ", "oe"),
        ("Œ", "Oe"),
    ];
    FOLDS
        .iter()
        .find(|(from, _)| from.contains(c))
        .map(|(_, to)| *to)
}

/// Maps every trait of `values` (see [`custom_field_values`]) to a field key, reusing an
/// existing field when one matches ([`existing_key`]) and creating the snake_case key otherwise.
/// Returns the values under their field keys. With a fresh cache that resolves them all this
/// makes no call; otherwise it lists the definitions once and creates what is missing.
pub fn ensure_defined(
    client: &mut Client,
    scope: FieldScope,
    values: &Map<String, Value>,
) -> Result<Map<String, Value>, Error> {
    if values.is_empty() {
        return Ok(Map::new());
    }
    if let Some(cached) = cached_keys(client, scope)
        && let Some(resolved) = resolve_all(&cached, values)
    {
        client.debug(
            "field definitions cache hit",
            &[("scope", scope.collection())],
        );
        return Ok(resolved);
    }

    // The cache is missing or may be stale: list the definitions (all pages).
    let mut known = list_keys(client, scope)?;
    let mut resolved = Map::new();
    for (name, value) in values {
        let key = match existing_key(&known, name) {
            Some(key) => key.clone(),
            None => {
                let key = normalize_key(name).expect("custom_field_values keeps usable names");
                create(client, scope, &key, field_type_for(value), None)?;
                known.insert(key.clone());
                remember(client, scope, &known);
                key
            }
        };
        resolved.insert(key, value.clone());
    }
    Ok(resolved)
}

/// The key of the checkbox user field named `name` (an audience), reusing an existing field as
/// [`ensure_defined`] does, or creating it with `tag` so that Zendesk also tags its members.
pub fn ensure_checkbox(
    client: &mut Client,
    name: &str,
    tag: Option<&str>,
) -> Result<String, Error> {
    let scope = FieldScope::User;
    if let Some(cached) = cached_keys(client, scope)
        && let Some(key) = existing_key(&cached, name)
    {
        return Ok(key.clone());
    }
    let mut known = list_keys(client, scope)?;
    if let Some(key) = existing_key(&known, name) {
        return Ok(key.clone());
    }
    let key = normalize_key(name).ok_or_else(|| {
        Error::InvalidConfig(format!("{name:?} cannot become a Zendesk field key"))
    })?;
    create(client, scope, &key, "checkbox", tag)?;
    known.insert(key.clone());
    remember(client, scope, &known);
    Ok(key)
}

/// Whether `key` is the key of a field of `scope` (cached keys, else listed).
pub fn is_defined(client: &mut Client, scope: FieldScope, key: &str) -> Result<bool, Error> {
    if cached_keys(client, scope).is_some_and(|keys| keys.contains(key)) {
        return Ok(true);
    }
    Ok(list_keys(client, scope)?.contains(key))
}

/// Every field definition of `scope` (all pages).
pub fn list_definitions(client: &mut Client, scope: FieldScope) -> Result<Vec<Value>, Error> {
    let path = format!("/api/v2/{}?page[size]=100", scope.collection());
    client.list_all(&path, scope.collection())
}

/// The keys of every field definition of `scope`, listed and cached.
fn list_keys(client: &mut Client, scope: FieldScope) -> Result<BTreeSet<String>, Error> {
    let known: BTreeSet<String> = list_definitions(client, scope)?
        .iter()
        .filter_map(|field| field.get("key").and_then(Value::as_str).map(str::to_string))
        .collect();
    remember(client, scope, &known);
    Ok(known)
}

/// Every trait under its existing field's key, or `None` when one has no field (yet).
fn resolve_all(
    known: &BTreeSet<String>,
    values: &Map<String, Value>,
) -> Option<Map<String, Value>> {
    values
        .iter()
        .map(|(name, value)| Some((existing_key(known, name)?.clone(), value.clone())))
        .collect()
}

fn field_type_for(value: &Value) -> &'static str {
    match value {
        Value::Bool(_) => "checkbox",
        Value::Number(_) => "decimal",
        _ => "text",
    }
}

fn create(
    client: &mut Client,
    scope: FieldScope,
    key: &str,
    field_type: &str,
    tag: Option<&str>,
) -> Result<(), Error> {
    let mut field = json!({"key": key, "title": title_from_key(key), "type": field_type});
    if let Some(tag) = tag {
        field["tag"] = tag.into();
    }
    let body = json!({ scope.item(): field });
    let path = format!("/api/v2/{}", scope.collection());
    let reply = client.send("POST", &path, Some(&body))?;
    match reply.status {
        200..=299 => {
            client.debug(
                "created custom field",
                &[("scope", scope.collection()), ("key", key)],
            );
            Ok(())
        }
        // The key is taken: created concurrently or by an earlier attempt of this event.
        422 if reply.is_duplicate() => {
            client.debug(
                "custom field already exists (422): using it",
                &[("scope", scope.collection()), ("key", key)],
            );
            Ok(())
        }
        _ => Err(reply.into_error()),
    }
}

fn cached_keys(client: &Client, scope: FieldScope) -> Option<BTreeSet<String>> {
    let text = client.cache_get(scope.cache_key())?;
    serde_json::from_str::<Vec<String>>(&text)
        .ok()
        .map(|keys| keys.into_iter().collect())
}

fn remember(client: &Client, scope: FieldScope, keys: &BTreeSet<String>) {
    let keys: Vec<&String> = keys.iter().collect();
    if let Ok(text) = serde_json::to_string(&keys) {
        client.cache_set(scope.cache_key(), &text, FIELDS_TTL_SECONDS);
    }
}

/// `plan_name` -> `Plan Name`.
fn title_from_key(key: &str) -> String {
    key.split('_')
        .map(|word| {
            let mut chars = word.chars();
            match chars.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{FakeHost, config};

    const LIST: &str = "/api/v2/user_fields?page[size]=100";

    #[test]
    fn keys_are_normalised() {
        for (name, key) in [
            ("planName", Some("plan_name")),
            ("plan_name", Some("plan_name")),
            ("Plan Name", Some("plan_name")),
            ("plan-name", Some("plan_name")),
            ("totalBilled", Some("total_billed")),
            ("HTMLParser", Some("html_parser")),
            ("userID", Some("user_id")),
            ("version2Beta", Some("version2_beta")),
            ("__a..b__", Some("a_b")),
            ("2024", None),
            ("_1_2_", Some("1_2")),
            ("--", None),
            ("", None),
            ("café", Some("cafe")),
            ("größe", Some("grosse")),
            ("grüße", Some("grusse")),
            ("ÖlPreis", Some("ol_preis")),
            ("名前", None),
            ("名前Plan", Some("plan")),
            ("fooΩBar", Some("foo_bar")),
            ("Straße2Go", Some("strasse2_go")),
            // An uppercase letter after a digit starts a word, as before heck.
            ("2FA", Some("2_fa")),
            ("A2B", Some("a2_b")),
            ("has2FA", Some("has2_fa")),
            ("COVID19Status", Some("covid19_status")),
            ("MP3Player", Some("mp3_player")),
            ("iPhone12Pro", Some("i_phone12_pro")),
            ("ABCd", Some("ab_cd")),
        ] {
            assert_eq!(normalize_key(name).as_deref(), key, "{name}");
        }
        assert_eq!(title_from_key("plan_name"), "Plan Name");
    }

    #[test]
    fn values_skip_reserved_non_scalar_and_unusable_traits() {
        let host = FakeHost::new();
        let config = config(json!({}));
        let client = Client::new(&host, &config);
        let traits = json!({"name": "Ann", "planName": "pro", "seats": 3, "vip": true,
            "address": {"city": "X"}, "tags": ["a"], "nothing": null, "123": "x"});
        let values = custom_field_values(&client, traits.as_object().unwrap(), &["name"]);
        assert_eq!(
            Value::Object(values),
            json!({"planName": "pro", "seats": 3, "vip": true})
        );
        assert!(host.logged("cannot become a Zendesk field key"));
    }

    #[test]
    fn lists_all_pages_then_creates_missing_with_types() {
        let host = FakeHost::new();
        host.on(
            "GET",
            LIST,
            200,
            json!({"user_fields": [{"key": "plan"}],
            "meta": {"has_more": true, "after_cursor": "c1"}}),
        );
        host.on(
            "GET",
            &format!("{LIST}&page[after]=c1"),
            200,
            json!({"user_fields": [{"key": "seats"}], "meta": {"has_more": false}}),
        );
        host.on(
            "POST",
            "/api/v2/user_fields",
            201,
            json!({"user_field": {"id": 1}}),
        );
        let config = config(json!({}));
        let mut client = Client::new(&host, &config);
        let values =
            json!({"plan": "pro", "seats": 2, "vip": true, "totalBilled": 9.5, "nick": "a"});
        let resolved =
            ensure_defined(&mut client, FieldScope::User, values.as_object().unwrap()).unwrap();
        assert_eq!(
            Value::Object(resolved),
            json!({"plan": "pro", "seats": 2, "vip": true, "total_billed": 9.5, "nick": "a"})
        );
        let bodies: Vec<Value> = (2..5).map(|i| host.body(i)).collect();
        assert_eq!(
            bodies,
            vec![
                json!({"user_field": {"key": "nick", "title": "Nick", "type": "text"}}),
                json!({"user_field": {"key": "total_billed", "title": "Total Billed", "type": "decimal"}}),
                json!({"user_field": {"key": "vip", "title": "Vip", "type": "checkbox"}}),
            ]
        );
        assert_eq!(host.requests().len(), 5);
        let cached: Vec<String> =
            serde_json::from_str(&host.cached("fields:user").unwrap()).unwrap();
        assert_eq!(cached, vec!["nick", "plan", "seats", "total_billed", "vip"]);
        assert_eq!(host.cache.borrow()["fields:user"].1, 3600);
    }

    #[test]
    fn cache_hit_makes_no_call_and_stale_cache_relists_once() {
        let host = FakeHost::new();
        host.put_cache("fields:organization", r#"["plan","seats"]"#);
        let config = config(json!({}));
        let mut client = Client::new(&host, &config);
        let known = json!({"plan": "x", "seats": 1});
        ensure_defined(
            &mut client,
            FieldScope::Organization,
            known.as_object().unwrap(),
        )
        .unwrap();
        assert!(host.requests().is_empty());

        // `region` was created elsewhere since the cache was filled: re-list, no create.
        host.on("GET", "/api/v2/organization_fields?page[size]=100", 200,
            json!({"organization_fields": [{"key": "plan"}, {"key": "seats"}, {"key": "region"}], "next_page": null}));
        let values = json!({"plan": "x", "region": "eu"});
        ensure_defined(
            &mut client,
            FieldScope::Organization,
            values.as_object().unwrap(),
        )
        .unwrap();
        assert_eq!(
            host.calls(),
            vec!["GET /api/v2/organization_fields?page[size]=100"]
        );
        assert!(
            host.cached("fields:organization")
                .unwrap()
                .contains("region")
        );
    }

    #[test]
    fn existing_fields_are_reused_exact_then_snake_then_case_insensitive() {
        let host = FakeHost::new();
        host.on(
            "GET",
            LIST,
            200,
            json!({"user_fields": [{"key": "favoriteColor"}, {"key": "plan_name"},
                {"key": "Shoe_Size"}, {"key": "seats"}, {"key": "Seats"}]}),
        );
        host.on(
            "POST",
            "/api/v2/user_fields",
            201,
            json!({"user_field": {"id": 1}}),
        );
        let config = config(json!({}));
        let mut client = Client::new(&host, &config);
        let values = json!({"favoriteColor": "red", "planName": "pro", "shoeSize": 42,
            "Seats": 3, "newTrait": true});
        let resolved =
            ensure_defined(&mut client, FieldScope::User, values.as_object().unwrap()).unwrap();
        assert_eq!(
            Value::Object(resolved),
            json!({"favoriteColor": "red", "plan_name": "pro", "Shoe_Size": 42, "Seats": 3,
                "new_trait": true})
        );
        // Only the trait without any matching field is created, under its snake_case key.
        assert_eq!(
            host.calls(),
            vec![
                "GET /api/v2/user_fields?page[size]=100",
                "POST /api/v2/user_fields"
            ]
        );
        assert_eq!(host.body(1)["user_field"]["key"], "new_trait");
        // The cache now resolves all of them: no call.
        let again =
            ensure_defined(&mut client, FieldScope::User, values.as_object().unwrap()).unwrap();
        assert_eq!(again["favoriteColor"], "red");
        assert_eq!(host.requests().len(), 2);
    }

    #[test]
    fn duplicate_key_422_counts_as_created_other_errors_fail() {
        let host = FakeHost::new();
        host.on("GET", LIST, 200, json!({"user_fields": []}));
        host.on(
            "POST",
            "/api/v2/user_fields",
            422,
            json!({"error": "RecordInvalid",
            "details": {"key": [{"description": "Key has already been taken"}]}}),
        );
        let config = config(json!({}));
        let mut client = Client::new(&host, &config);
        let values = json!({"plan": "x"});
        ensure_defined(&mut client, FieldScope::User, values.as_object().unwrap()).unwrap();
        assert_eq!(host.cached("fields:user").as_deref(), Some(r#"["plan"]"#));

        let host = FakeHost::new();
        host.on("GET", LIST, 200, json!({"user_fields": []}));
        host.on_with_headers(
            "POST",
            "/api/v2/user_fields",
            429,
            json!({}),
            &[("Retry-After", "3")],
        );
        let mut client = Client::new(&host, &config);
        let error =
            ensure_defined(&mut client, FieldScope::User, values.as_object().unwrap()).unwrap_err();
        assert!(matches!(
            error,
            Error::Retryable {
                retry_after_seconds: Some(3),
                ..
            }
        ));
    }
}
