//! `GET /users/search`: `external_id=` is exact; `query=` is FUZZY like Zendesk's full-text search
//! (substring matches), which is exactly what makes "take users[0]" lookups wrong.
//!
//! Supported syntax: terms separated by spaces, all of which must match; `field:value` or
//! `field:"quoted value"` for email, name, external_id, phone, or the key of a custom user
//! field (substring, case-insensitive); `type:user` (ignored); a bare term or "quoted phrase"
//! matches name, any email or external_id.
//!
//! `GET /search?query=type:organization key:value` (Zendesk's unified search) finds
//! organizations by name, external_id or a custom organization field the same way, and
//! `type:user` users; results carry `result_type`.

use serde_json::Value;

use crate::account::Call;
use crate::http::{Handled, Response, bad_request};
use crate::model::{Organization, User};
use crate::pagination::{PageRequest, page_body};
use crate::render;
use crate::snapshot::AccountSnapshot;
use crate::users::exact_external_id;

#[derive(Debug, PartialEq)]
enum Term {
    Field { field: String, value: String },
    Bare(String),
}

/// Splits a decoded query into terms; double quotes group spaces into one value.
fn parse_terms(query: &str, custom_keys: &[String]) -> Vec<Term> {
    let mut tokens = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in query.chars() {
        match c {
            '"' => quoted = !quoted,
            c if c.is_whitespace() && !quoted => {
                if !current.is_empty() {
                    tokens.push(std::mem::take(&mut current));
                }
            }
            c => current.push(c),
        }
    }
    if !current.is_empty() {
        tokens.push(current);
    }
    tokens
        .into_iter()
        .map(|token| match token.split_once(':') {
            Some((field, value))
                if is_search_field(field) || custom_keys.iter().any(|k| k == field) =>
            {
                Term::Field {
                    field: field.to_ascii_lowercase(),
                    value: value.to_lowercase(),
                }
            }
            _ => Term::Bare(token.to_lowercase()),
        })
        .collect()
}

fn is_search_field(field: &str) -> bool {
    matches!(
        field.to_ascii_lowercase().as_str(),
        "email" | "name" | "external_id" | "phone" | "type"
    )
}

fn contains(haystack: Option<&str>, needle: &str) -> bool {
    haystack.is_some_and(|h| h.to_lowercase().contains(needle))
}

fn matches(data: &AccountSnapshot, user: &User, term: &Term) -> bool {
    let any_email = |needle: &str| {
        data.emails_of(user.id)
            .iter()
            .any(|e| contains(Some(e), needle))
    };
    match term {
        Term::Field { field, value } => match field.as_str() {
            "email" => any_email(value),
            "name" => contains(Some(&user.name), value),
            "external_id" => contains(user.external_id.as_deref(), value),
            "phone" => contains(user.phone.as_deref(), value),
            // `type:user` narrows the unified search to users; this endpoint only has users.
            "type" => true,
            key => custom_value_contains(user.user_fields.get(key), value),
        },
        Term::Bare(value) => {
            contains(Some(&user.name), value)
                || any_email(value)
                || contains(user.external_id.as_deref(), value)
        }
    }
}

pub(crate) fn search_users(call: Call) -> Handled {
    let account = &*call.account;
    if let Some(external_id) = call.query.get("external_id") {
        return Ok(exact_external_id(account, external_id));
    }
    let Some(query) = call.query.get("query") else {
        return Err(bad_request(
            "InvalidParameter",
            "query or external_id is required",
        ));
    };
    // users/search is offset-only.
    let request = PageRequest::from_query(&call.query, false)?;
    let terms = parse_terms(query, &field_keys(&account.data.user_fields));
    let users: Vec<Value> = account
        .data
        .users
        .iter()
        .filter(|u| !terms.is_empty() && terms.iter().all(|t| matches(&account.data, u, t)))
        .map(|u| render::user(account, u))
        .collect();
    let url = format!("{}/api/v2/users/search.json", account.base_url);
    Ok(Response::json(
        200,
        &page_body("users", users, request, &url, &[("query", query)]),
    ))
}

fn field_keys(fields: &[crate::model::FieldDef]) -> Vec<String> {
    fields.iter().map(|f| f.key.clone()).collect()
}

/// A custom field's value (text, number or checkbox) against a lowercased needle.
fn custom_value_contains(value: Option<&Value>, needle: &str) -> bool {
    match value {
        Some(Value::String(s)) => contains(Some(s), needle),
        Some(Value::Number(n)) => n.to_string() == needle,
        Some(Value::Bool(b)) => b.to_string() == needle,
        _ => false,
    }
}

fn organization_matches(org: &Organization, term: &Term) -> bool {
    match term {
        Term::Field { field, value } => match field.as_str() {
            "name" => contains(Some(&org.name), value),
            "external_id" => contains(org.external_id.as_deref(), value),
            "type" => true,
            key => custom_value_contains(org.organization_fields.get(key), value),
        },
        Term::Bare(value) => {
            contains(Some(&org.name), value) || contains(org.external_id.as_deref(), value)
        }
    }
}

/// `GET /search?query=`: `type:organization` or `type:user` and field terms (one type a query).
pub(crate) fn search(call: Call) -> Handled {
    let account = &*call.account;
    let Some(query) = call.query.get("query") else {
        return Err(bad_request("InvalidParameter", "query is required"));
    };
    let request = PageRequest::from_query(&call.query, false)?;
    let data = &account.data;
    let results: Vec<Value> = if query.contains("type:organization") {
        let terms = parse_terms(query, &field_keys(&data.organization_fields));
        (data.organizations.iter())
            .filter(|o| terms.iter().all(|t| organization_matches(o, t)))
            .map(|o| {
                let mut rendered = render::organization(account, o);
                rendered["result_type"] = "organization".into();
                rendered
            })
            .collect()
    } else if query.contains("type:user") {
        let terms = parse_terms(query, &field_keys(&data.user_fields));
        (data.users.iter())
            .filter(|u| terms.iter().all(|t| matches(data, u, t)))
            .map(|u| {
                let mut rendered = render::user(account, u);
                rendered["result_type"] = "user".into();
                rendered
            })
            .collect()
    } else {
        return Err(bad_request(
            "InvalidParameter",
            "the mock's search needs type:user or type:organization",
        ));
    };
    let url = format!("{}/api/v2/search.json", account.base_url);
    Ok(Response::json(
        200,
        &page_body("results", results, request, &url, &[("query", query)]),
    ))
}

#[cfg(test)]
mod tests {
    use super::{Term, parse_terms};

    #[test]
    fn quoted_values_keep_spaces_and_fields_are_recognised() {
        assert_eq!(
            parse_terms(r#"email:"Bob x@y.com" type:user Ann"#, &[]),
            vec![
                Term::Field {
                    field: "email".into(),
                    value: "bob x@y.com".into()
                },
                Term::Field {
                    field: "type".into(),
                    value: "user".into()
                },
                Term::Bare("ann".into()),
            ]
        );
    }
}
