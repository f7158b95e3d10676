//! Sorting a batch's messages: which go to the bulk part (folded per user and per
//! organization), which run alone, which are settled before any call (invalid, unchanged).

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

use super::custom_objects::FoldedCustomRecord;
use super::tickets::FoldedTicket;
use crate::client::Client;
use crate::config::Config;
use crate::dedupe::Fingerprint;
use crate::event::{Event, EventType};
use crate::message::Message;
use crate::organizations::Organization;
use crate::outcome::{Error, Outcome};
use crate::records::{Bulk, Identifier};
use crate::sync_config::ObjectType;
use crate::{identify, users};

/// One user's consecutive identifies, folded into one bulk item.
pub(crate) struct FoldedUser {
    /// The `user` object to upsert (with `user_fields` once the fields are defined).
    pub attrs: Map<String, Value>,
    /// Custom field values, for the definitions to exist first.
    pub custom: Map<String, Value>,
    pub events: Vec<usize>,
    /// Organizations to join: (event, organization id).
    pub joins: Vec<(usize, u64)>,
}

impl FoldedUser {
    /// `user u1` or `user a@x.com`, for messages.
    pub fn name(&self) -> String {
        let id = self.attrs.get("external_id").or(self.attrs.get("email"));
        format!("user {}", id.and_then(Value::as_str).unwrap_or("?"))
    }
}

/// One organization's groups, folded into one bulk item.
pub(crate) struct FoldedOrg {
    pub org: Organization,
    pub events: Vec<usize>,
}

/// A delete row for the bulk deletes.
pub(crate) struct FoldedDelete {
    pub object: ObjectType,
    pub identifier: Identifier,
    pub event: usize,
}

/// Whose membership a group asks for.
#[derive(Clone, Copy)]
enum Member {
    Known(u64),
    Folded(usize),
}

struct GroupLink {
    event: usize,
    member: Member,
    org: usize,
}

/// A membership to make, with the events that ask for it.
pub(crate) struct WantedMembership {
    pub user_id: u64,
    pub organization_id: u64,
    pub events: Vec<usize>,
}

pub(crate) struct Plan {
    /// Events decided before any call: invalid ones, and unchanged ones (skipped).
    pub settled: Vec<(usize, Result<Outcome, Error>)>,
    /// Bulk events to remember as delivered when they succeed.
    pub fingerprints: Vec<(usize, Fingerprint)>,
    pub organizations: Vec<FoldedOrg>,
    pub users: Vec<FoldedUser>,
    /// Delete rows for `destroy_many`, run after the upserts.
    pub deletes: Vec<FoldedDelete>,
    /// Custom object rows for the object's jobs endpoint.
    pub custom_records: Vec<FoldedCustomRecord>,
    /// Ticket rows for `tickets/create_many` and `update_many`.
    pub tickets: Vec<FoldedTicket>,
    groups: Vec<GroupLink>,
    /// The messages that run alone, one by one after the bulk part.
    alone: Vec<Option<Message>>,
    people: Vec<Option<String>>,
}

impl Plan {
    pub fn classify(
        client: &Client,
        config: &Config,
        config_text: &str,
        events: &[String],
    ) -> Plan {
        let mut plan = Plan {
            settled: Vec::new(),
            fingerprints: Vec::new(),
            organizations: Vec::new(),
            users: Vec::new(),
            deletes: Vec::new(),
            custom_records: Vec::new(),
            tickets: Vec::new(),
            groups: Vec::new(),
            alone: (0..events.len()).map(|_| None).collect(),
            people: vec![None; events.len()],
        };
        let mut sorter = Sorter::default();
        for (index, text) in events.iter().enumerate() {
            let event = match Message::parse(text) {
                Err(error) => {
                    plan.settled.push((index, Err(error)));
                    continue;
                }
                Ok(Message::Event(event)) => event,
                // User rows under upsert join the bulk users; other records and audience lists
                // run alone.
                Ok(Message::Record(record)) => {
                    if let Err(error) = plan.fold_record(&mut sorter, client, config, index, record)
                    {
                        plan.settled.push((index, Err(error)));
                    }
                    continue;
                }
                Ok(message) => {
                    plan.alone[index] = Some(message);
                    continue;
                }
            };
            let person = person_of(&event);
            plan.people[index] = person.clone();
            let tainted = person.as_ref().is_some_and(|p| sorter.alone.contains(p));
            if event.kind == EventType::Track || tainted {
                plan.alone[index] = Some(Message::Event(event));
                continue;
            }
            let fingerprint = Fingerprint::of(config_text, config.skip_unchanged_seconds, &event);
            if let Some(fingerprint) = fingerprint.as_ref().filter(|f| f.seen(client.host())) {
                let skipped = crate::dedupe::unchanged(event.kind, fingerprint.window_seconds());
                plan.settled.push((index, Ok(skipped)));
                continue;
            }
            let bulk = match event.kind {
                EventType::Identify => {
                    plan.fold_identify(&mut sorter, client, config, index, &event)
                }
                _ => plan.fold_group(&mut sorter, client, config, index, &event),
            };
            match bulk {
                Ok(true) => plan.fingerprints.extend(fingerprint.map(|f| (index, f))),
                Ok(false) => {
                    plan.alone[index] = Some(Message::Event(event));
                    sorter.alone.extend(person);
                }
                Err(error) => plan.settled.push((index, Err(error))),
            }
        }
        plan
    }

    /// Folds a warehouse row into the bulk step its object and mode allow, else it runs alone.
    /// Rows naming one record keep their order: after one that runs alone or in a bulk step
    /// that comes later (tickets, deletes, custom objects), the record's later rows run alone
    /// (after the bulk part).
    fn fold_record(
        &mut self,
        sorter: &mut Sorter,
        client: &Client,
        config: &Config,
        index: usize,
        record: crate::record::Record,
    ) -> Result<(), Error> {
        let (bulk, key) = crate::records::classify(client, config, &record)?;
        let tainted = key.as_ref().is_some_and(|k| sorter.alone.contains(k));
        match bulk {
            _ if tainted => self.alone[index] = Some(Message::Record(record)),
            // After an event of the same user that runs alone: alone too, in order.
            Bulk::User(attrs, _) if sorter.alone.contains(&user_key(&attrs)) => {
                self.alone[index] = Some(Message::Record(record));
            }
            Bulk::User(attrs, custom) => {
                self.fold_user(sorter, index, attrs, custom);
                return Ok(());
            }
            Bulk::Organization(org) => {
                self.fold_organization(sorter, index, org);
                return Ok(());
            }
            Bulk::Ticket(external_id, row) => self.tickets.push(FoldedTicket {
                external_id,
                row,
                event: index,
            }),
            Bulk::Delete(object, identifier) => self.deletes.push(FoldedDelete {
                object,
                identifier,
                event: index,
            }),
            Bulk::CustomRecord(record) => self.custom_records.push(FoldedCustomRecord {
                record,
                event: index,
            }),
            Bulk::Alone => self.alone[index] = Some(Message::Record(record)),
        }
        sorter.alone.extend(key);
        Ok(())
    }

    /// Folds a plain identify into its user's item; false when it must run alone.
    fn fold_identify(
        &mut self,
        sorter: &mut Sorter,
        client: &Client,
        config: &Config,
        index: usize,
        event: &Event,
    ) -> Result<bool, Error> {
        let planned = identify::plan(client, config, event)?;
        if planned.leave_organization.is_some() || planned.primary_email.is_some() {
            return Ok(false);
        }
        let at = self.fold_user(sorter, index, planned.user, planned.custom_fields);
        if let Some(org) = planned.join_organization {
            self.users[at].joins.push((index, org));
        }
        Ok(true)
    }

    /// Folds a user's attributes (an identify's, a record's) into its item; the item's index.
    fn fold_user(
        &mut self,
        sorter: &mut Sorter,
        index: usize,
        attrs: Map<String, Value>,
        custom: Map<String, Value>,
    ) -> usize {
        let key = user_key(&attrs);
        match sorter.users.get(&key).copied() {
            Some(at) if !conflicts(&self.users[at].attrs, &attrs) => {
                let user = &mut self.users[at];
                user.attrs.extend(attrs);
                user.custom.extend(custom);
                user.events.push(index);
                at
            }
            // New, or a new address or phone (an identity of its own): the next item, in order.
            _ => {
                sorter.users.insert(key, self.users.len());
                self.users.push(FoldedUser {
                    attrs,
                    custom,
                    events: vec![index],
                    joins: Vec::new(),
                });
                self.users.len() - 1
            }
        }
    }

    /// Folds a group by groupId into its organization's item and links its user; false when it
    /// must run alone (no groupId, a user not known yet, an explicit Zendesk user id).
    fn fold_group(
        &mut self,
        sorter: &mut Sorter,
        client: &Client,
        config: &Config,
        index: usize,
        event: &Event,
    ) -> Result<bool, Error> {
        let org = Organization::from_traits(client, event.group_id.as_deref(), &event.traits)?;
        if org.external_id.is_none() {
            return Ok(false);
        }
        let member = match &event.user_id {
            _ if event.zendesk_user_id.is_some() => return Ok(false),
            Some(user_id) => match sorter.users.get(&user_id.to_lowercase()) {
                Some(&folded) => Some(Member::Folded(folded)),
                None => match users::cached(client, &users::ext_key(user_id)) {
                    Some(id) => Some(Member::Known(id)),
                    None => return Ok(false),
                },
            },
            None if config.send_group_calls_without_user_id => None,
            None => return Ok(false),
        };
        let org_index = self.fold_organization(sorter, index, org);
        if let Some(member) = member {
            self.groups.push(GroupLink {
                event: index,
                member,
                org: org_index,
            });
        }
        Ok(true)
    }

    /// Folds an organization (with an external id) into its item; the item's index.
    fn fold_organization(&mut self, sorter: &mut Sorter, index: usize, org: Organization) -> usize {
        let external_id = org.external_id.clone().unwrap_or_default().to_lowercase();
        match sorter.organizations.get(&external_id) {
            Some(&i) => {
                let folded = &mut self.organizations[i];
                folded.org.name = org.name.or(folded.org.name.take());
                folded.org.attributes.extend(org.attributes);
                folded.org.custom_fields.extend(org.custom_fields);
                folded.events.push(index);
                i
            }
            None => {
                sorter
                    .organizations
                    .insert(external_id, self.organizations.len());
                self.organizations.push(FoldedOrg {
                    org,
                    events: vec![index],
                });
                self.organizations.len() - 1
            }
        }
    }

    /// The memberships the bulk events ask for, once users and organizations have ids, and the
    /// events whose user or organization failed (their membership cannot be made yet).
    pub fn memberships(
        &self,
        user_ids: &[Option<u64>],
        org_ids: &[Option<u64>],
    ) -> (Vec<WantedMembership>, Vec<usize>) {
        let mut wanted: Vec<WantedMembership> = Vec::new();
        let mut orphans = Vec::new();
        let mut add = |user_id: Option<u64>, organization_id: Option<u64>, event: usize| {
            let (Some(user_id), Some(organization_id)) = (user_id, organization_id) else {
                orphans.push(event);
                return;
            };
            match wanted
                .iter_mut()
                .find(|w| w.user_id == user_id && w.organization_id == organization_id)
            {
                Some(existing) => existing.events.push(event),
                None => wanted.push(WantedMembership {
                    user_id,
                    organization_id,
                    events: vec![event],
                }),
            }
        };
        for (user, id) in self.users.iter().zip(user_ids) {
            for &(event, org) in &user.joins {
                add(*id, Some(org), event);
            }
        }
        for link in &self.groups {
            let user_id = match link.member {
                Member::Known(id) => Some(id),
                Member::Folded(i) => user_ids[i],
            };
            add(user_id, org_ids[link.org], link.event);
        }
        (wanted, orphans)
    }

    /// The message of an event that runs alone, parsed already (once: it is taken).
    pub fn take_alone(&mut self, index: usize) -> Option<Message> {
        self.alone[index].take()
    }

    pub fn person_of(&self, index: usize) -> Option<&str> {
        self.people[index].as_deref()
    }
}

#[derive(Default)]
struct Sorter {
    /// User key -> the index of its latest folded item.
    users: HashMap<String, usize>,
    /// Organization external id -> its folded item.
    organizations: HashMap<String, usize>,
    /// People with an event that runs alone: their later events run alone too.
    alone: HashSet<String>,
}

/// Whose events must keep their order: the userId, else the anonymousId, else the email.
fn person_of(event: &Event) -> Option<String> {
    event
        .user_id
        .clone()
        .or_else(|| event.anonymous_id.clone())
        .or_else(|| {
            let traits = event.user_traits();
            traits
                .get("email")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .map(|p| p.to_lowercase())
}

fn user_key(user: &Map<String, Value>) -> String {
    match (user.get("external_id"), user.get("email")) {
        (Some(Value::String(id)), _) => id.to_lowercase(),
        (_, Some(Value::String(email))) => format!("email:{}", email.to_lowercase()),
        _ => String::new(),
    }
}

/// Whether `next` sets an email or phone other than the folded item's (each one becomes an
/// identity of its own, so both writes must happen, in order).
fn conflicts(folded: &Map<String, Value>, next: &Map<String, Value>) -> bool {
    ["email", "phone"]
        .iter()
        .any(|key| match (folded.get(*key), next.get(*key)) {
            (Some(Value::String(a)), Some(Value::String(b))) => !a.eq_ignore_ascii_case(b),
            _ => false,
        })
}
