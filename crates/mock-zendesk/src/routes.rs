//! Maps method + path to a handler. `.json` suffixes are accepted; unknown routes are 404
//! InvalidEndpoint like Zendesk.

use crate::account::Call;
use crate::fields::FieldScope;
use crate::http::{Handled, Response, not_found_endpoint};
use crate::jobs;
use crate::memberships::{DefaultTarget, Scope};
use crate::tags::{Change, Owner};
use crate::{
    custom_objects, deletes, events, fields, identities, memberships, organizations, search, tags,
    tickets, users,
};

/// The tags endpoints' methods: GET lists, POST sets, PUT adds, DELETE removes.
fn tag_change(method: &str) -> Option<Change> {
    match method {
        "GET" => Some(Change::List),
        "POST" => Some(Change::Set),
        "PUT" => Some(Change::Add),
        "DELETE" => Some(Change::Remove),
        _ => None,
    }
}

fn id(segment: &str) -> Result<u64, Response> {
    segment.parse().map_err(|_| not_found_endpoint())
}

pub(crate) fn route(method: &str, path: &str, call: Call) -> Handled {
    let Some(rest) = path.strip_prefix("/api/v2/") else {
        return Err(not_found_endpoint());
    };
    let mut segments: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
    if let Some(last) = segments.last_mut() {
        *last = last.strip_suffix(".json").unwrap_or(last);
    }
    let method = method.to_ascii_uppercase();
    match (method.as_str(), segments.as_slice()) {
        // users
        ("POST", ["users", "create_or_update"]) => users::create_or_update(call),
        ("POST", ["users", "create_or_update_many"]) => jobs::users_create_or_update_many(call),
        ("POST", ["users", "create_many"]) => jobs::users_create_many(call),
        ("PUT", ["users", "update_many"]) => jobs::users_update_many(call),
        ("GET", ["users", "search"]) => search::search_users(call),
        ("DELETE", ["users", "destroy_many"]) => jobs::users_destroy_many(call),
        ("GET", ["users", "show_many"]) => users::show_many(call),
        ("GET", ["users"]) => users::list(call),
        ("POST", ["users"]) => users::create_only(call),
        ("GET", ["users", u]) => users::show(call, id(u)?),
        ("PUT", ["users", u]) => users::update_by_id(call, id(u)?),
        ("DELETE", ["users", u]) => deletes::user(call, id(u)?),
        ("DELETE", ["deleted_users", u]) => deletes::deleted_user(call, id(u)?),
        ("GET", ["users", u, "profiles"]) => deletes::profiles_of_user(call, id(u)?),
        ("DELETE", ["user_profiles", p]) => deletes::profile(call, p),
        (m, ["users", u, "tags"]) if tag_change(m).is_some() => {
            tags::tags(call, Owner::User(id(u)?), tag_change(m).expect("matched"))
        }
        // identities
        ("GET", ["users", u, "identities"]) => identities::list(call, id(u)?),
        ("POST", ["users", u, "identities"]) => identities::create(call, id(u)?),
        ("GET", ["users", u, "identities", i]) => identities::show(call, id(u)?, id(i)?),
        ("PUT", ["users", u, "identities", i]) => identities::update(call, id(u)?, id(i)?),
        ("DELETE", ["users", u, "identities", i]) => identities::delete(call, id(u)?, id(i)?),
        ("PUT", ["users", u, "identities", i, "make_primary"]) => {
            identities::make_primary(call, id(u)?, id(i)?)
        }
        ("PUT", ["users", u, "identities", i, "verify"]) => {
            identities::verify(call, id(u)?, id(i)?)
        }
        // events
        ("POST", ["users", u, "events"]) => events::create(call, id(u)?),
        // memberships
        ("POST", ["organization_memberships", "create_many"]) => {
            jobs::memberships_create_many(call)
        }
        ("POST", ["organization_memberships"]) => memberships::create(call, None),
        ("GET", ["organization_memberships"]) => memberships::list(call, Scope::All),
        ("GET", ["organization_memberships", m]) => memberships::show(call, id(m)?),
        ("DELETE", ["organization_memberships", m]) => memberships::delete(call, None, id(m)?),
        ("POST", ["users", u, "organization_memberships"]) => {
            memberships::create(call, Some(id(u)?))
        }
        ("GET", ["users", u, "organization_memberships"]) => {
            memberships::list(call, Scope::User(id(u)?))
        }
        ("DELETE", ["users", u, "organization_memberships", m]) => {
            memberships::delete(call, Some(id(u)?), id(m)?)
        }
        ("DELETE", ["users", u, "organizations", o]) => memberships::unassign(call, id(u)?, id(o)?),
        ("PUT", ["users", u, "organization_memberships", m, "make_default"]) => {
            memberships::make_default(call, id(u)?, DefaultTarget::Membership(id(m)?))
        }
        ("PUT", ["users", u, "organizations", o, "make_default"]) => {
            memberships::make_default(call, id(u)?, DefaultTarget::Organization(id(o)?))
        }
        ("GET", ["organizations", o, "organization_memberships"]) => {
            memberships::list(call, Scope::Organization(id(o)?))
        }
        // organizations
        ("POST", ["organizations", "create_or_update"]) => organizations::create_or_update(call),
        ("GET", ["organizations", "search"]) => organizations::search(call),
        ("GET", ["organizations", "show_many"]) => organizations::show_many(call),
        ("POST", ["organizations", "create_many"]) => jobs::organizations_create_many(call),
        ("PUT", ["organizations", "update_many"]) => jobs::organizations_update_many(call),
        ("DELETE", ["organizations", "destroy_many"]) => jobs::organizations_destroy_many(call),
        ("GET", ["organizations"]) => organizations::list(call),
        ("POST", ["organizations"]) => organizations::create_only(call),
        ("GET", ["organizations", o]) => organizations::show(call, id(o)?),
        ("PUT", ["organizations", o]) => organizations::update_by_id(call, id(o)?),
        ("DELETE", ["organizations", o]) => deletes::organization(call, id(o)?),
        (m, ["organizations", o, "tags"]) if tag_change(m).is_some() => tags::tags(
            call,
            Owner::Organization(id(o)?),
            tag_change(m).expect("matched"),
        ),
        ("GET", ["search"]) => search::search(call),
        // bulk jobs
        ("GET", ["job_statuses", "show_many"]) => jobs::show_many(call),
        ("GET", ["job_statuses", j]) => jobs::show(call, j),
        // custom field definitions
        ("GET", ["user_fields"]) => fields::list(call, FieldScope::User),
        ("POST", ["user_fields"]) => fields::create(call, FieldScope::User),
        ("GET", ["organization_fields"]) => fields::list(call, FieldScope::Organization),
        ("POST", ["organization_fields"]) => fields::create(call, FieldScope::Organization),
        ("GET", ["ticket_fields"]) => fields::list(call, FieldScope::Ticket),
        ("POST", ["ticket_fields"]) => fields::create(call, FieldScope::Ticket),
        // custom objects
        ("GET", ["custom_objects"]) => custom_objects::list_objects(call),
        ("GET", ["custom_objects", k, "fields"]) => custom_objects::list_fields(call, k),
        ("GET", ["custom_objects", k, "records"]) => custom_objects::list_records(call, k),
        ("POST", ["custom_objects", k, "records"]) => custom_objects::create_record(call, k),
        ("PATCH", ["custom_objects", k, "records"]) => custom_objects::upsert_record(call, k),
        ("DELETE", ["custom_objects", k, "records"]) => {
            custom_objects::delete_by_external_id(call, k)
        }
        ("POST", ["custom_objects", k, "jobs"]) => jobs::custom_object_records(call, k),
        ("GET", ["custom_objects", k, "records", r]) => custom_objects::show_record(call, k, r),
        ("PATCH", ["custom_objects", k, "records", r]) => custom_objects::update_record(call, k, r),
        ("DELETE", ["custom_objects", k, "records", r]) => {
            custom_objects::delete_record(call, k, r)
        }
        // tickets
        ("DELETE", ["tickets", "destroy_many"]) => jobs::tickets_destroy_many(call),
        ("POST", ["tickets", "create_many"]) => jobs::tickets_create_many(call),
        ("PUT", ["tickets", "update_many"]) => jobs::tickets_update_many(call),
        ("POST", ["tickets"]) => tickets::create(call),
        ("GET", ["tickets"]) => tickets::list(call),
        ("GET", ["tickets", t]) => tickets::show(call, id(t)?),
        ("PUT", ["tickets", t]) => tickets::update(call, id(t)?),
        ("DELETE", ["tickets", t]) => deletes::ticket(call, id(t)?),
        ("GET", ["tickets", t, "comments"]) => tickets::comments(call, id(t)?),
        _ => Err(not_found_endpoint()),
    }
}
