//! The mock account's final state as JSON, with finders that read like the assertions.

use mock_zendesk::MockZendesk;
use serde_json::Value;

/// A snapshot of the scenario's mock account (`AccountSnapshot` serialised).
#[derive(Clone, Debug)]
pub struct State(pub Value);

impl State {
    pub fn of(mock: &MockZendesk, subdomain: &str) -> State {
        let snapshot = mock.account(subdomain);
        State(serde_json::to_value(&snapshot).unwrap_or_else(|e| panic!("snapshot to JSON: {e}")))
    }

    /// The records of one collection (`users`, `organizations`, `memberships`, ...).
    pub fn all(&self, collection: &str) -> Vec<&Value> {
        match self.0.get(collection) {
            Some(Value::Array(items)) => items.iter().collect(),
            _ => panic!("the snapshot has no `{collection}` list: {:#}", self.0),
        }
    }

    pub fn count(&self, collection: &str) -> usize {
        self.all(collection).len()
    }

    fn find(&self, collection: &str, what: &str, matches: impl Fn(&Value) -> bool) -> &Value {
        let found: Vec<&Value> = self
            .all(collection)
            .into_iter()
            .filter(|v| matches(v))
            .collect();
        match found.as_slice() {
            [one] => one,
            [] => panic!("no {what} in {collection}: {:#}", self.0[collection]),
            _ => panic!("several {what} in {collection}: {found:#?}"),
        }
    }

    /// The one user with this external id (case-insensitive).
    pub fn user_by_external_id(&self, external_id: &str) -> &Value {
        self.find("users", &format!("user `{external_id}`"), |u| {
            eq_ignore_case(&u["external_id"], external_id)
        })
    }

    /// The one user owning an email identity with this value.
    pub fn user_by_email(&self, email: &str) -> &Value {
        let identity = self.find("identities", &format!("identity `{email}`"), |i| {
            i["type"] == "email" && eq_ignore_case(&i["value"], email)
        });
        let user_id = identity["user_id"].clone();
        self.find("users", &format!("user {user_id}"), |u| u["id"] == user_id)
    }

    pub fn user_by_id(&self, id: u64) -> &Value {
        self.find("users", &format!("user {id}"), |u| u["id"] == id)
    }

    pub fn org_by_name(&self, name: &str) -> &Value {
        self.find("organizations", &format!("org `{name}`"), |o| {
            eq_ignore_case(&o["name"], name)
        })
    }

    pub fn org_by_external_id(&self, external_id: &str) -> &Value {
        self.find("organizations", &format!("org `{external_id}`"), |o| {
            eq_ignore_case(&o["external_id"], external_id)
        })
    }

    /// The email identities of a user: (value, primary).
    pub fn emails_of(&self, user_id: u64) -> Vec<(String, bool)> {
        let mut emails: Vec<(String, bool)> = self
            .all("identities")
            .into_iter()
            .filter(|i| i["user_id"] == user_id && i["type"] == "email")
            .map(|i| (text(&i["value"]), i["primary"] == true))
            .collect();
        emails.sort();
        emails
    }

    /// The primary email of a user.
    pub fn primary_email_of(&self, user_id: u64) -> String {
        let primaries: Vec<String> = self
            .emails_of(user_id)
            .into_iter()
            .filter(|(_, primary)| *primary)
            .map(|(value, _)| value)
            .collect();
        assert_eq!(
            primaries.len(),
            1,
            "user {user_id} primary emails: {primaries:?}"
        );
        primaries[0].clone()
    }

    /// The organization ids a user is a member of, sorted.
    pub fn org_ids_of(&self, user_id: u64) -> Vec<u64> {
        let mut ids: Vec<u64> = self
            .all("memberships")
            .into_iter()
            .filter(|m| m["user_id"] == user_id)
            .map(|m| id_of(&m["organization_id"]))
            .collect();
        ids.sort_unstable();
        ids
    }

    /// The keys of the defined user fields (or `organization_fields`), sorted.
    pub fn field_keys(&self, collection: &str) -> Vec<String> {
        let mut keys: Vec<String> = self
            .all(collection)
            .into_iter()
            .map(|f| text(&f["key"]))
            .collect();
        keys.sort();
        keys
    }

    /// The user events stored for a user.
    pub fn events_of(&self, user_id: u64) -> Vec<&Value> {
        self.all("events")
            .into_iter()
            .filter(|e| e["user_id"] == user_id)
            .collect()
    }

    /// Everything except the append-only event log and timestamps: what a retry must not change.
    pub fn entities(&self) -> Value {
        let mut value = self.0.clone();
        if let Some(object) = value.as_object_mut() {
            // Zendesk's Events API is an append-only log without idempotency keys: a replayed
            // track is a second event by design, so it is compared separately.
            object.remove("events");
        }
        strip_timestamps(&mut value);
        value
    }

    /// Asserts `other` holds exactly the same entities (ids included) as `self`.
    pub fn assert_same_entities(&self, other: &State, context: &str) {
        let (expected, actual) = (self.entities(), other.entities());
        if expected != actual {
            panic!(
                "state differs {context}\n--- expected\n{:#}\n--- actual\n{:#}",
                expected, actual
            );
        }
    }
}

/// The numeric id in a JSON value (ids are u64 in the mock).
pub fn id_of(value: &Value) -> u64 {
    value
        .as_u64()
        .unwrap_or_else(|| panic!("expected a numeric id, got {value}"))
}

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_string()
}

fn eq_ignore_case(value: &Value, expected: &str) -> bool {
    value
        .as_str()
        .is_some_and(|s| s.eq_ignore_ascii_case(expected))
}

fn strip_timestamps(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.remove("created_at");
            map.remove("updated_at");
            map.values_mut().for_each(strip_timestamps);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_timestamps),
        _ => {}
    }
}
