//! `AccountSnapshot`: one account's whole state, also the mock's storage, plus finders for tests.

use serde::Serialize;
use serde_json::{Value, json};

use crate::model::{
    CustomObject, FieldDef, Identity, Membership, Organization, Profile, Ticket, User, UserEvent,
};

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct AccountSnapshot {
    pub users: Vec<User>,
    pub identities: Vec<Identity>,
    pub organizations: Vec<Organization>,
    pub memberships: Vec<Membership>,
    pub user_fields: Vec<FieldDef>,
    pub organization_fields: Vec<FieldDef>,
    /// Zendesk's system ticket fields, then the custom ones.
    pub ticket_fields: Vec<FieldDef>,
    pub events: Vec<UserEvent>,
    pub profiles: Vec<Profile>,
    pub tickets: Vec<Ticket>,
    /// Soft-deleted users (`DELETE /users/{id}`), until deleted for good.
    pub deleted_users: Vec<User>,
    pub custom_objects: Vec<CustomObject>,
}

impl AccountSnapshot {
    /// The account's content, without ids and timestamps, in a stable order.
    /// What differs between this account's content and `expected`'s (per part, the first
    /// entries missing here and the first extra ones), or `None` when they are the same.
    pub fn differences(&self, expected: &AccountSnapshot) -> Option<String> {
        let (ours, theirs) = (self.comparable(), expected.comparable());
        if ours == theirs {
            return None;
        }
        let mut report = String::new();
        for (part, items) in theirs.as_object().into_iter().flatten() {
            let theirs = items.as_array().cloned().unwrap_or_default();
            let ours = ours[part].as_array().cloned().unwrap_or_default();
            let missing: Vec<_> = theirs
                .iter()
                .filter(|i| !ours.contains(i))
                .take(5)
                .collect();
            let extra: Vec<_> = ours
                .iter()
                .filter(|i| !theirs.contains(i))
                .take(5)
                .collect();
            if !missing.is_empty() || !extra.is_empty() {
                report += &format!("{part}: missing {missing:?}; extra {extra:?}\n");
            }
        }
        Some(report)
    }

    pub fn comparable(&self) -> Value {
        let account = self;
        let ext = |user_id: u64| {
            account
                .user(user_id)
                .and_then(|u| u.external_id.clone())
                .unwrap_or_default()
        };
        let org_name = |org_id: u64| {
            account
                .organizations
                .iter()
                .find(|o| o.id == org_id)
                .map(|o| o.name.clone())
                .unwrap_or_default()
        };
        let mut users: Vec<Value> = account
            .users
            .iter()
            .map(|u| {
                let mut emails: Vec<&str> = account.emails_of(u.id);
                emails.sort();
                json!([
                    u.external_id,
                    u.name,
                    u.email,
                    emails,
                    u.user_fields,
                    u.verified,
                    u.tags
                ])
            })
            .collect();
        let mut orgs: Vec<Value> = account
            .organizations
            .iter()
            .map(|o| {
                json!([
                    o.external_id,
                    o.name,
                    o.tags,
                    o.domain_names,
                    o.organization_fields
                ])
            })
            .collect();
        let mut memberships: Vec<Value> = account
            .memberships
            .iter()
            .map(|m| json!([ext(m.user_id), org_name(m.organization_id), m.default]))
            .collect();
        let mut events: Vec<Value> = account
            .events
            .iter()
            .map(|e| {
                json!([
                    ext(e.user_id),
                    e.event.get("type"),
                    e.event.get("properties")
                ])
            })
            .collect();
        let mut fields: Vec<Value> = (account
            .user_fields
            .iter()
            .map(|f| json!(["user", f.key, f.r#type])))
        .chain(
            account
                .organization_fields
                .iter()
                .map(|f| json!(["org", f.key, f.r#type])),
        )
        .collect();
        let requester = |user_id: u64| account.user(user_id).and_then(|u| u.email.clone());
        let mut tickets: Vec<Value> = (account.tickets.iter())
            .map(|t| {
                let custom: Vec<&Value> = t.custom_fields.iter().map(|f| &f.value).collect();
                let comments: Vec<&str> = t.comments.iter().map(|c| c.body.as_str()).collect();
                json!([
                    t.external_id,
                    t.subject,
                    t.status,
                    t.priority,
                    t.r#type,
                    t.tags,
                    requester(t.requester_id),
                    custom,
                    comments
                ])
            })
            .collect();
        let mut custom_records: Vec<Value> = (account.custom_objects.iter())
            .flat_map(|o| {
                o.records
                    .iter()
                    .map(|r| json!([o.key, r.external_id, r.name, r.custom_object_fields]))
            })
            .collect();
        for list in [
            &mut users,
            &mut orgs,
            &mut memberships,
            &mut events,
            &mut fields,
            &mut tickets,
            &mut custom_records,
        ] {
            list.sort_by_key(|v| v.to_string());
        }
        json!({"users": users, "organizations": orgs, "memberships": memberships, "events": events,
            "fields": fields, "tickets": tickets, "custom_object_records": custom_records})
    }

    pub fn user(&self, id: u64) -> Option<&User> {
        self.users.iter().find(|u| u.id == id)
    }

    /// Case-insensitive, like Zendesk's external_id matching.
    pub fn user_by_external_id(&self, external_id: &str) -> Option<&User> {
        self.users.iter().find(|u| {
            u.external_id
                .as_deref()
                .is_some_and(|e| e.eq_ignore_ascii_case(external_id))
        })
    }

    /// The user owning an email identity with this value (primary or secondary), case-insensitive.
    pub fn user_by_email(&self, email: &str) -> Option<&User> {
        self.identity_by_email(email)
            .and_then(|identity| self.user(identity.user_id))
    }

    pub fn identity_by_email(&self, email: &str) -> Option<&Identity> {
        self.identities
            .iter()
            .find(|i| i.r#type == "email" && i.value.eq_ignore_ascii_case(email))
    }

    /// The user's identities in id order.
    pub fn identities_of(&self, user_id: u64) -> Vec<&Identity> {
        self.identities
            .iter()
            .filter(|i| i.user_id == user_id)
            .collect()
    }

    /// The values of the user's email identities, primary first.
    pub fn emails_of(&self, user_id: u64) -> Vec<&str> {
        let mut emails: Vec<&Identity> = self
            .identities_of(user_id)
            .into_iter()
            .filter(|i| i.r#type == "email")
            .collect();
        emails.sort_by_key(|i| !i.primary);
        emails.into_iter().map(|i| i.value.as_str()).collect()
    }

    pub fn organization(&self, id: u64) -> Option<&Organization> {
        self.organizations.iter().find(|o| o.id == id)
    }

    pub fn organization_by_external_id(&self, external_id: &str) -> Option<&Organization> {
        self.organizations.iter().find(|o| {
            o.external_id
                .as_deref()
                .is_some_and(|e| e.eq_ignore_ascii_case(external_id))
        })
    }

    /// Case-insensitive and trimmed, the way Zendesk compares organization names.
    pub fn organization_by_name(&self, name: &str) -> Option<&Organization> {
        self.organizations
            .iter()
            .find(|o| same_org_name(&o.name, name))
    }

    /// The user's memberships, default first then by organization name (Zendesk's order).
    pub fn memberships_of(&self, user_id: u64) -> Vec<&Membership> {
        let mut memberships: Vec<&Membership> = self
            .memberships
            .iter()
            .filter(|m| m.user_id == user_id)
            .collect();
        memberships.sort_by_cached_key(|m| {
            let name = self
                .organization(m.organization_id)
                .map(|o| o.name.to_lowercase())
                .unwrap_or_default();
            (!m.default, name, m.id)
        });
        memberships
    }

    /// The ids of the organizations the user belongs to, in `memberships_of` order.
    pub fn organization_ids_of(&self, user_id: u64) -> Vec<u64> {
        self.memberships_of(user_id)
            .iter()
            .map(|m| m.organization_id)
            .collect()
    }

    pub fn membership(&self, user_id: u64, organization_id: u64) -> Option<&Membership> {
        self.memberships
            .iter()
            .find(|m| m.user_id == user_id && m.organization_id == organization_id)
    }

    pub fn user_field(&self, key: &str) -> Option<&FieldDef> {
        self.user_fields.iter().find(|f| f.key == key)
    }

    pub fn organization_field(&self, key: &str) -> Option<&FieldDef> {
        self.organization_fields.iter().find(|f| f.key == key)
    }

    pub fn events_of(&self, user_id: u64) -> Vec<&UserEvent> {
        self.events
            .iter()
            .filter(|e| e.user_id == user_id)
            .collect()
    }

    pub fn profiles_of(&self, user_id: u64) -> Vec<&Profile> {
        self.profiles
            .iter()
            .filter(|p| p.user_id == user_id)
            .collect()
    }

    pub fn ticket(&self, id: u64) -> Option<&Ticket> {
        self.tickets.iter().find(|t| t.id == id)
    }

    pub fn tickets_by_external_id(&self, external_id: &str) -> Vec<&Ticket> {
        self.tickets
            .iter()
            .filter(|t| t.external_id.as_deref() == Some(external_id))
            .collect()
    }
}

/// Organization names are unique after trimming, ignoring case.
pub(crate) fn same_org_name(a: &str, b: &str) -> bool {
    a.trim().to_lowercase() == b.trim().to_lowercase()
}
