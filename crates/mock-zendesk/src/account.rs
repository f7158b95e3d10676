//! One Zendesk account (subdomain): its records, id allocation and the derived values that must
//! stay consistent (a user's primary email / verified flag / default organization).

use serde_json::Value;

use crate::http::Query;
use crate::snapshot::AccountSnapshot;
use crate::time::now_iso8601;

/// Id counters, each kind from its own base so tests can tell ids apart at a glance.
#[derive(Clone, Debug)]
struct NextIds {
    user: u64,
    identity: u64,
    organization: u64,
    membership: u64,
    field: u64,
    ticket: u64,
    comment: u64,
    custom_record: u64,
}

impl Default for NextIds {
    fn default() -> Self {
        NextIds {
            user: 1000,
            identity: 3000,
            organization: 5000,
            membership: 8000,
            field: 700,
            ticket: 1,
            comment: 90_000,
            custom_record: 1,
        }
    }
}

/// The first id of Zendesk's system ticket fields.
const SYSTEM_TICKET_FIELD_IDS: u64 = 360_000_001;

#[derive(Clone, Debug, Copy)]
pub(crate) enum IdKind {
    User,
    Identity,
    Organization,
    Membership,
    Field,
    Ticket,
    Comment,
    /// Custom object records (rendered as string ids).
    CustomRecord,
}

pub(crate) struct Account {
    pub data: AccountSnapshot,
    /// "https://<sub>.zendesk.com": resource `url`s and absolute pagination links use it.
    pub base_url: String,
    /// Bulk jobs and the account's bulk settings.
    pub jobs: crate::job_queue::Jobs,
    next: NextIds,
}

impl Account {
    pub fn new(subdomain: &str) -> Self {
        Account {
            data: AccountSnapshot {
                // Numbered apart from the custom fields, as in Zendesk.
                ticket_fields: crate::system_fields::system_ticket_fields(SYSTEM_TICKET_FIELD_IDS),
                ..AccountSnapshot::default()
            },
            base_url: format!("https://{subdomain}.zendesk.com"),
            jobs: Default::default(),
            next: NextIds::default(),
        }
    }

    pub fn next_id(&mut self, kind: IdKind) -> u64 {
        let counter = match kind {
            IdKind::User => &mut self.next.user,
            IdKind::Identity => &mut self.next.identity,
            IdKind::Organization => &mut self.next.organization,
            IdKind::Membership => &mut self.next.membership,
            IdKind::Field => &mut self.next.field,
            IdKind::Ticket => &mut self.next.ticket,
            IdKind::Comment => &mut self.next.comment,
            IdKind::CustomRecord => &mut self.next.custom_record,
        };
        let id = *counter;
        *counter += 1;
        id
    }

    /// Recomputes `user.email` (primary email identity) and `user.verified` (any identity verified).
    pub fn sync_identity_summary(&mut self, user_id: u64) {
        let identities = self.data.identities_of(user_id);
        let email = identities
            .iter()
            .find(|i| i.primary && i.r#type == "email")
            .map(|i| i.value.clone());
        let verified = identities.iter().any(|i| i.verified);
        if let Some(user) = self.data.users.iter_mut().find(|u| u.id == user_id) {
            user.email = email;
            user.verified = verified;
        }
    }

    /// Keeps exactly one default membership when the user has any (the first in Zendesk's order
    /// takes over when the default goes away) and mirrors it in `user.organization_id`.
    pub fn sync_default_organization(&mut self, user_id: u64) {
        let ordered: Vec<u64> = self
            .data
            .memberships_of(user_id)
            .iter()
            .map(|m| m.id)
            .collect();
        let has_default = self
            .data
            .memberships
            .iter()
            .any(|m| m.user_id == user_id && m.default);
        if !has_default
            && let Some(first) = ordered.first()
            && let Some(m) = self.data.memberships.iter_mut().find(|m| m.id == *first)
        {
            m.default = true;
        }
        let default_org = self
            .data
            .memberships
            .iter()
            .find(|m| m.user_id == user_id && m.default)
            .map(|m| m.organization_id);
        if let Some(user) = self.data.users.iter_mut().find(|u| u.id == user_id) {
            user.organization_id = default_org;
        }
    }

    pub fn touch_user(&mut self, user_id: u64) {
        if let Some(user) = self.data.users.iter_mut().find(|u| u.id == user_id) {
            user.updated_at = now_iso8601();
        }
    }
}

/// What a route handler gets: the account, the decoded query and the parsed JSON body.
pub(crate) struct Call<'a> {
    pub account: &'a mut Account,
    pub query: Query,
    pub body: Option<Value>,
}
