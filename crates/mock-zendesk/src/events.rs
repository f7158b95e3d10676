//! Sunshine user events: `POST /users/{id}/events`, with the protected `zendesk` source and the
//! 20-profiles-per-person cap.

use serde_json::{Value, json};

use crate::account::Call;
use crate::http::{Handled, Response, errors_list};
use crate::model::{Profile, UserEvent};
use crate::time::now_iso8601;

pub(crate) const MAX_PROFILES_PER_USER: usize = 20;

fn invalid(code: &str, title: &str) -> Response {
    errors_list(400, code, title)
}

/// A required, non-empty string member of `object`.
fn required_text<'a>(object: &'a Value, key: &str, what: &str) -> Result<&'a str, Response> {
    match object.get(key).and_then(Value::as_str).map(str::trim) {
        Some(text) if !text.is_empty() => Ok(text),
        _ => Err(invalid(
            "InvalidValue",
            &format!("{what}.{key} is required"),
        )),
    }
}

fn reject_reserved_source(source: &str) -> Result<(), Response> {
    match source.eq_ignore_ascii_case("zendesk") {
        true => Err(invalid(
            "InvalidSource",
            "Source 'zendesk' is reserved for Zendesk and cannot be used",
        )),
        false => Ok(()),
    }
}

pub(crate) fn create(call: Call, user_id: u64) -> Handled {
    let account = call.account;
    if account.data.user(user_id).is_none() {
        return Err(errors_list(404, "NotFound", "User not found"));
    }
    let body = call.body.unwrap_or(Value::Null);
    let event = match body.get("event") {
        Some(event) if event.is_object() => event.clone(),
        _ => return Err(invalid("InvalidValue", "event is required")),
    };
    reject_reserved_source(required_text(&event, "source", "event")?)?;
    required_text(&event, "type", "event")?;
    if !event.get("properties").is_some_and(Value::is_object) {
        return Err(invalid(
            "InvalidValue",
            "event.properties must be an object",
        ));
    }
    let profile = match body.get("profile") {
        None | Some(Value::Null) => None,
        Some(profile) if profile.is_object() => Some(profile.clone()),
        Some(_) => return Err(invalid("InvalidValue", "profile must be an object")),
    };
    let profile_key = match &profile {
        Some(profile) => {
            let source = required_text(profile, "source", "profile")?;
            reject_reserved_source(source)?;
            let kind = required_text(profile, "type", "profile")?;
            Some((source.to_string(), kind.to_string()))
        }
        None => None,
    };
    // Resolve (or create) the profile before storing anything, so a capped request changes nothing.
    let existing_profiles = account.data.profiles_of(user_id);
    let profile_id = match &profile_key {
        Some((source, kind)) => match existing_profiles
            .iter()
            .find(|p| &p.source == source && &p.r#type == kind)
        {
            Some(found) => Some(found.id.clone()),
            None if existing_profiles.len() >= MAX_PROFILES_PER_USER => {
                return Err(invalid(
                    "ProfileLimitExceeded",
                    "A person can have at most 20 profiles",
                ));
            }
            None => {
                let id = format!("profile-{user_id}-{}", existing_profiles.len() + 1);
                account.data.profiles.push(Profile {
                    id: id.clone(),
                    user_id,
                    source: source.clone(),
                    r#type: kind.clone(),
                });
                Some(id)
            }
        },
        None => None,
    };
    account.data.events.push(UserEvent {
        user_id,
        profile_id: profile_id.clone(),
        profile,
        event,
        received_at: now_iso8601(),
    });
    Ok(Response::json(
        202,
        &json!({"profile_id": profile_id, "status": "received", "user_id": user_id.to_string()}),
    ))
}
