//! Organizations: the group traits mapped onto Zendesk's organization, and the upsert (by
//! `external_id` = groupId, or by exact name when there is no groupId).

use crate::client::{Client, Reply, encode, id_in};
use crate::fields::custom_field_values;
use crate::outcome::Error;
use crate::traits;
use serde_json::{Map, Value, json};

/// How long an organization id learnt from Zendesk is trusted.
const ORG_TTL_SECONDS: u32 = 86_400;

/// Group traits with a standard meaning (never custom fields).
const RESERVED: &[&str] = &[
    "name",
    "domainNames",
    "domain_names",
    "tags",
    "url",
    "deleted",
    "groupId",
    "group_id",
    "id",
];

/// The organization an event describes.
#[derive(Debug, Clone, PartialEq)]
pub struct Organization {
    pub external_id: Option<String>,
    pub name: Option<String>,
    /// Everything else to write: domain_names, tags, url, deleted, organization_fields.
    pub attributes: Map<String, Value>,
    /// The custom field values (also inside `attributes`), for the definitions to exist first.
    pub custom_fields: Map<String, Value>,
}

impl Organization {
    /// Maps the group traits. Fails (before any call) on traits of the wrong type.
    pub fn from_traits(
        client: &Client,
        group_id: Option<&str>,
        org_traits: &Map<String, Value>,
    ) -> Result<Organization, Error> {
        let mut attributes = Map::new();
        if let Some(domains) = traits::string_list(org_traits, "domainNames")? {
            attributes.insert("domain_names".into(), json!(domains));
        }
        if let Some(tags) = traits::string_list(org_traits, "tags")? {
            attributes.insert("tags".into(), json!(tags));
        }
        if let Some(url) = traits::text(org_traits, "url")? {
            attributes.insert("url".into(), url.into());
        }
        if let Some(deleted) = traits::flag(org_traits, "deleted")? {
            attributes.insert("deleted".into(), deleted.into());
        }
        // Set as `organization_fields` once resolved to field keys (`ensure_defined`).
        let custom_fields = custom_field_values(client, org_traits, RESERVED);
        Ok(Organization {
            external_id: group_id.map(str::to_string),
            name: traits::text(org_traits, "name")?,
            attributes,
            custom_fields,
        })
    }

    pub fn body(&self, with_name: bool) -> Value {
        let mut org = self.attributes.clone();
        if let (true, Some(name)) = (with_name, &self.name) {
            org.insert("name".into(), name.clone().into());
        }
        if let Some(external_id) = &self.external_id {
            org.insert("external_id".into(), external_id.clone().into());
        }
        json!({ "organization": org })
    }
}

/// Creates or updates the organization and returns its id. The same payload written less than
/// the config's unchanged window ago is not written again (many users' groups name one
/// organization with the same traits).
pub fn upsert(client: &mut Client, org: &Organization) -> Result<u64, Error> {
    let window = client.unchanged_window_seconds();
    let written_key = (window > 0).then(|| unchanged_key(org));
    if let Some(id) = written_key.as_deref().and_then(|key| cached(client, key)) {
        client.debug(
            "organization unchanged within the window: not written again",
            &[],
        );
        return Ok(id);
    }
    let id = match &org.external_id {
        Some(external_id) => upsert_by_external_id(client, org, external_id),
        None => {
            let name = org.name.as_deref().ok_or_else(|| {
                Error::InvalidEvent("group needs `traits.name` when there is no groupId".into())
            })?;
            upsert_by_name(client, org, name)
        }
    }?;
    remember_written(client, org, id);
    Ok(id)
}

/// Remembers that `org`'s payload is in place in organization `id` for the unchanged window.
pub fn remember_written(client: &Client, org: &Organization, id: u64) {
    let window = client.unchanged_window_seconds();
    if window > 0 {
        client.cache_set(&unchanged_key(org), &id.to_string(), window);
    }
}

/// The cache key of an organization payload written recently (its value: the organization id).
pub fn unchanged_key(org: &Organization) -> String {
    crate::dedupe::content_key("org:written", &org.body(true))
}

fn upsert_by_external_id(
    client: &mut Client,
    org: &Organization,
    external_id: &str,
) -> Result<u64, Error> {
    let cache_key = external_id_key(external_id);
    // Nothing to write beyond the id itself: a known organization needs no call.
    if org.name.is_none()
        && org.attributes.is_empty()
        && let Some(id) = cached(client, &cache_key)
    {
        client.debug("organization id cache hit (external_id)", &[]);
        return Ok(id);
    }
    let reply = client.send(
        "POST",
        "/api/v2/organizations/create_or_update",
        Some(&org.body(true)),
    )?;
    let id = if reply.is_success() {
        id_in(&reply.json()?, "organization")?
    } else {
        adopt_by_name(client, org, reply)?
    };
    client.cache_set(&cache_key, &id.to_string(), ORG_TTL_SECONDS);
    Ok(id)
}

/// create_or_update matches by external id only, so an organization that agents (or a name-only
/// group) created earlier makes it fail with "name already taken". When exactly that name exists
/// WITHOUT an external id, it is the one meant: give it the groupId. Another external id on it is
/// a real conflict and stays an error.
fn adopt_by_name(client: &mut Client, org: &Organization, failed: Reply) -> Result<u64, Error> {
    let Some(name) = org.name.as_deref().filter(|_| failed.is_duplicate()) else {
        return Err(failed.into_error());
    };
    let Some(existing) = find_by_name(client, name)? else {
        return Err(failed.into_error());
    };
    let has_external_id = existing
        .get("external_id")
        .and_then(Value::as_str)
        .is_some_and(|e| !e.is_empty());
    let Some(id) = existing.get("id").and_then(Value::as_u64) else {
        return Err(failed.into_error());
    };
    if has_external_id {
        return Err(failed.into_error());
    }
    client.debug(
        "adopting the organization of the same name by its groupId",
        &[],
    );
    client.call(
        "PUT",
        &format!("/api/v2/organizations/{id}"),
        Some(&org.body(false)),
    )?;
    Ok(id)
}

/// Zendesk cannot upsert by name: find the organization by exact name, update it when there is
/// something to write, or create it (and on a concurrent create, find it again).
fn upsert_by_name(client: &mut Client, org: &Organization, name: &str) -> Result<u64, Error> {
    let cache_key = format!("org:name:{}", name.trim().to_lowercase());
    if let Some(id) = cached(client, &cache_key) {
        client.debug("organization id cache hit (name)", &[]);
        match update(client, org, id)? {
            Some(()) => return Ok(id),
            None => client.cache_remove(&cache_key), // deleted since: look again
        }
    }
    let id = match search_by_name(client, name)? {
        Some(id) => {
            update(client, org, id)?;
            id
        }
        None => {
            let reply = client.send("POST", "/api/v2/organizations", Some(&org.body(true)))?;
            created_or_taken(client, org, name, reply)?
        }
    };
    client.cache_set(&cache_key, &id.to_string(), ORG_TTL_SECONDS);
    Ok(id)
}

fn created_or_taken(
    client: &mut Client,
    org: &Organization,
    name: &str,
    reply: Reply,
) -> Result<u64, Error> {
    if reply.is_success() {
        return id_in(&reply.json()?, "organization");
    }
    if reply.status == 422 {
        // Most likely the name was taken by a concurrent create: use that organization.
        if let Some(id) = search_by_name(client, name)? {
            update(client, org, id)?;
            return Ok(id);
        }
    }
    Err(reply.into_error())
}

/// Writes the attributes (not the name) to an existing organization. `None` when it is gone (404).
fn update(client: &mut Client, org: &Organization, id: u64) -> Result<Option<()>, Error> {
    if org.attributes.is_empty() {
        return Ok(Some(()));
    }
    let reply = client.send(
        "PUT",
        &format!("/api/v2/organizations/{id}"),
        Some(&org.body(false)),
    )?;
    match reply.status {
        200..=299 => Ok(Some(())),
        404 => Ok(None),
        _ => Err(reply.into_error()),
    }
}

fn search_by_name(client: &mut Client, name: &str) -> Result<Option<u64>, Error> {
    Ok(find_by_name(client, name)?
        .and_then(|o| o.get("id").cloned())
        .and_then(|id| id.as_u64()))
}

/// The organization named exactly `name` (case-insensitive, trimmed, as Zendesk compares names).
fn find_by_name(client: &mut Client, name: &str) -> Result<Option<Value>, Error> {
    let path = format!("/api/v2/organizations/search?name={}", encode(name));
    let wanted = name.trim();
    Ok(client
        .list_all(&path, "organizations")?
        .into_iter()
        .find(|o| {
            o.get("name")
                .and_then(Value::as_str)
                .is_some_and(|n| n.trim().eq_ignore_ascii_case(wanted))
        }))
}

/// The organization with this external id: the cache, then Zendesk's exact search.
pub fn find_by_external_id(client: &mut Client, external_id: &str) -> Result<Option<u64>, Error> {
    let cache_key = external_id_key(external_id);
    if let Some(id) = cached(client, &cache_key) {
        client.debug("organization id cache hit (external_id)", &[]);
        return Ok(Some(id));
    }
    let path = format!(
        "/api/v2/organizations/search?external_id={}",
        encode(external_id)
    );
    let found = client
        .list_all(&path, "organizations")?
        .iter()
        .find(|o| {
            o.get("external_id")
                .and_then(Value::as_str)
                .is_some_and(|e| e.eq_ignore_ascii_case(external_id))
        })
        .and_then(|o| o.get("id").and_then(Value::as_u64));
    if let Some(id) = found {
        remember_external_id(client, external_id, id);
    }
    Ok(found)
}

/// The remembered id of the organization with this external id.
pub fn cached_external_id(client: &Client, external_id: &str) -> Option<u64> {
    cached(client, &external_id_key(external_id))
}

/// Remembers the id of an organization created with this external id.
pub fn remember_external_id(client: &Client, external_id: &str, id: u64) {
    client.cache_set(
        &external_id_key(external_id),
        &id.to_string(),
        ORG_TTL_SECONDS,
    );
}

/// Forgets a cached organization id (Zendesk answered 404 for it).
pub fn forget_external_id(client: &Client, external_id: &str) {
    client.cache_remove(&external_id_key(external_id));
}

fn external_id_key(external_id: &str) -> String {
    format!("org:ext:{}", external_id.to_lowercase())
}

fn cached(client: &Client, key: &str) -> Option<u64> {
    client.cache_get(key).and_then(|v| v.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{FakeHost, config};

    fn org(client: &Client, group_id: Option<&str>, traits: Value) -> Organization {
        Organization::from_traits(client, group_id, traits.as_object().unwrap()).unwrap()
    }

    #[test]
    fn maps_traits_and_upserts_by_external_id() {
        let host = FakeHost::new();
        host.on(
            "POST",
            "/api/v2/organizations/create_or_update",
            201,
            json!({"organization": {"id": 5001}}),
        );
        let config = config(json!({}));
        let mut client = Client::new(&host, &config);
        let org = org(
            &client,
            Some("g1"),
            json!({"name": "Acme", "domainNames": "acme.com", "tags": ["a", "b"],
            "url": "https://acme.com", "deleted": false, "planName": "pro", "id": "x", "address": {"c": 1}}),
        );
        // Custom fields stay under their trait names until `fields::ensure_defined` resolves them.
        assert_eq!(
            Value::Object(org.custom_fields.clone()),
            json!({"planName": "pro"})
        );
        assert_eq!(upsert(&mut client, &org).unwrap(), 5001);
        assert_eq!(
            host.body(0),
            json!({"organization": {"name": "Acme", "external_id": "g1",
            "domain_names": ["acme.com"], "tags": ["a", "b"], "url": "https://acme.com", "deleted": false}})
        );
        assert_eq!(host.cached("org:ext:g1").as_deref(), Some("5001"));
        // Only the id known: the cached organization needs no call.
        let bare = Organization::from_traits(&client, Some("G1"), &Map::new()).unwrap();
        assert_eq!(upsert(&mut client, &bare).unwrap(), 5001);
        assert_eq!(host.requests().len(), 1);
    }

    #[test]
    fn wrong_trait_types_fail_before_any_call() {
        let host = FakeHost::new();
        let config = config(json!({}));
        let client = Client::new(&host, &config);
        let bad = json!({"domainNames": 5});
        let error = Organization::from_traits(&client, None, bad.as_object().unwrap()).unwrap_err();
        assert!(matches!(error, Error::InvalidEvent(m) if m.contains("domainNames")));
    }

    #[test]
    fn by_name_exact_match_updates_attributes() {
        let host = FakeHost::new();
        host.on(
            "GET",
            "/api/v2/organizations/search?name=Acme%20%26%20Co",
            200,
            json!({"organizations": [
            {"id": 1, "name": "Acme & Co Ltd"}, {"id": 2, "name": "acme & co"}]}),
        );
        host.on(
            "PUT",
            "/api/v2/organizations/2",
            200,
            json!({"organization": {"id": 2}}),
        );
        let config = config(json!({}));
        let mut client = Client::new(&host, &config);
        let with_tags = org(&client, None, json!({"name": "Acme & Co", "tags": "vip"}));
        assert_eq!(upsert(&mut client, &with_tags).unwrap(), 2);
        assert_eq!(host.body(1), json!({"organization": {"tags": ["vip"]}}));
        // Cached and nothing beyond the name: no call at all.
        let name_only = org(&client, None, json!({"name": "ACME & CO"}));
        assert_eq!(upsert(&mut client, &name_only).unwrap(), 2);
        assert_eq!(host.requests().len(), 2);
    }

    #[test]
    fn by_name_creates_and_recovers_from_a_concurrent_create() {
        let host = FakeHost::new();
        let search = "/api/v2/organizations/search?name=Beta";
        host.on("GET", search, 200, json!({"organizations": []}));
        host.on(
            "GET",
            search,
            200,
            json!({"organizations": [{"id": 8, "name": "Beta"}]}),
        );
        host.on(
            "POST",
            "/api/v2/organizations",
            422,
            json!({"details": {"name": [{"description": "Name: has already been taken"}]}}),
        );
        let config = config(json!({}));
        let mut client = Client::new(&host, &config);
        let beta = org(&client, None, json!({"name": "Beta"}));
        assert_eq!(upsert(&mut client, &beta).unwrap(), 8);
        assert_eq!(
            host.calls(),
            vec![
                format!("GET {search}"),
                "POST /api/v2/organizations".into(),
                format!("GET {search}")
            ]
        );
        assert_eq!(host.body(1), json!({"organization": {"name": "Beta"}}));

        let host = FakeHost::new();
        host.on(
            "GET",
            "/api/v2/organizations/search?name=Gamma",
            200,
            json!({"organizations": []}),
        );
        host.on(
            "POST",
            "/api/v2/organizations",
            201,
            json!({"organization": {"id": 9}}),
        );
        let mut client = Client::new(&host, &config);
        let gamma = org(&client, None, json!({"name": "Gamma"}));
        assert_eq!(upsert(&mut client, &gamma).unwrap(), 9);
        assert_eq!(host.cached("org:name:gamma").as_deref(), Some("9"));
    }
}
