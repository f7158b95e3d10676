//! `GET /users/search`: `external_id=` is exact; `query=` is FUZZY like Zendesk's full-text search
//! (substring matches), which is exactly what makes "take users[0]" lookups wrong.
//!
//! Supported syntax: terms separated by spaces, all of which must match; `field:value` or
//! `field:"quoted value"` for email, name, external_id, phone (substring, case-insensitive);
//! `type:user` (ignored); a bare term or "quoted phrase" matches name, any email or external_id.

use serde_json::Value;

use crate::account::Call;
use crate::http::{Handled, Response, bad_request};
use crate::model::User;
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
fn parse_terms(query: &str) -> Vec<Term> {
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
            Some((field, value)) if is_search_field(field) => Term::Field {
                field: field.to_ascii_lowercase(),
                value: value.to_lowercase(),
            },
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
            _ => true,
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
    let terms = parse_terms(query);
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

#[cfg(test)]
mod tests {
    use super::{Term, parse_terms};

    #[test]
    fn quoted_values_keep_spaces_and_fields_are_recognised() {
        assert_eq!(
            parse_terms(r#"email:"Bob x@y.com" type:user Ann"#),
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
