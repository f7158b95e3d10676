//! The mock Zendesk's final state as readable tables (for `demo` and `run --mock`).

use std::fmt::Write as _;

use mock_zendesk::{AccountSnapshot, MockZendesk};
use serde_json::{Map, Value};

/// Every account of the mock, one block of tables each.
pub fn render_mock_state(mock: &MockZendesk) -> String {
    let state = mock.state_json();
    let subdomains: Vec<&String> = state
        .as_object()
        .map(|o| o.keys().collect())
        .unwrap_or_default();
    if subdomains.is_empty() {
        return "mock Zendesk: no account was touched\n".to_string();
    }
    subdomains
        .into_iter()
        .map(|sub| render_account(sub, &mock.account(sub)))
        .collect()
}

pub fn render_account(subdomain: &str, account: &AccountSnapshot) -> String {
    let mut out = format!("=== mock Zendesk account `{subdomain}` ===\n");
    let user_label = |id: u64| match account.user(id) {
        Some(user) => format!(
            "{} ({})",
            user.name,
            user.external_id.as_deref().unwrap_or("-")
        ),
        None => format!("user {id}"),
    };
    let org_name = |id: u64| {
        account
            .organizations
            .iter()
            .find(|o| o.id == id)
            .map_or_else(|| format!("organization {id}"), |o| o.name.clone())
    };

    let mut users = Table::new(&[
        "id",
        "name",
        "email",
        "other emails",
        "external_id",
        "verified",
        "user_fields",
    ]);
    for user in &account.users {
        let other_emails: Vec<&str> = account
            .emails_of(user.id)
            .into_iter()
            .filter(|e| Some(*e) != user.email.as_deref())
            .collect();
        users.row(vec![
            user.id.to_string(),
            user.name.clone(),
            opt(&user.email),
            other_emails.join(", "),
            opt(&user.external_id),
            user.verified.to_string(),
            fields(&user.user_fields),
        ]);
    }
    users.render_into(&mut out, "Users");

    let mut orgs = Table::new(&[
        "id",
        "external_id",
        "name",
        "domain_names",
        "tags",
        "organization_fields",
    ]);
    for org in &account.organizations {
        orgs.row(vec![
            org.id.to_string(),
            opt(&org.external_id),
            org.name.clone(),
            org.domain_names.join(", "),
            org.tags.join(", "),
            fields(&org.organization_fields),
        ]);
    }
    orgs.render_into(&mut out, "Organizations");

    let mut memberships = Table::new(&["user", "organization", "default"]);
    for membership in &account.memberships {
        memberships.row(vec![
            user_label(membership.user_id),
            org_name(membership.organization_id),
            membership.default.to_string(),
        ]);
    }
    memberships.render_into(&mut out, "Memberships");

    let mut definitions = Table::new(&["kind", "key", "type"]);
    for (kind, defs) in [
        ("user", &account.user_fields),
        ("organization", &account.organization_fields),
    ] {
        for def in defs {
            definitions.row(vec![kind.to_string(), def.key.clone(), def.r#type.clone()]);
        }
    }
    definitions.render_into(&mut out, "Custom field definitions");

    let mut events = Table::new(&["user", "source", "type", "properties"]);
    for event in &account.events {
        let text = |key: &str| event.event.get(key).map(cell).unwrap_or_default();
        events.row(vec![
            user_label(event.user_id),
            text("source"),
            text("type"),
            text("properties"),
        ]);
    }
    events.render_into(&mut out, "Events");

    let mut tickets = Table::new(&[
        "id",
        "subject",
        "status",
        "priority",
        "requester",
        "tags",
        "comments",
    ]);
    for ticket in &account.tickets {
        tickets.row(vec![
            ticket.id.to_string(),
            opt(&ticket.subject),
            ticket.status.clone(),
            opt(&ticket.priority),
            user_label(ticket.requester_id),
            ticket.tags.join(", "),
            ticket
                .comments
                .iter()
                .map(|c| c.body.as_str())
                .collect::<Vec<_>>()
                .join(" | "),
        ]);
    }
    tickets.render_into(&mut out, "Tickets");
    out
}

fn opt(value: &Option<String>) -> String {
    value.clone().unwrap_or_else(|| "-".to_string())
}

fn cell(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn fields(map: &Map<String, Value>) -> String {
    map.iter()
        .map(|(key, value)| format!("{key}={}", cell(value)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Left-aligned text columns; long cells are cut so one wide value cannot wreck the layout.
/// A table of cells, rendered by comfy-table.
struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
}

const MAX_CELL_CHARS: usize = 90;

impl Table {
    fn new(headers: &[&str]) -> Table {
        Table {
            headers: headers.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells.into_iter().map(shorten).collect());
    }

    /// A borderless, left-aligned table under `title (rows)`, indented by two spaces.
    fn render_into(&self, out: &mut String, title: &str) {
        let _ = writeln!(out, "\n{title} ({})", self.rows.len());
        if self.rows.is_empty() {
            return;
        }
        let mut table = comfy_table::Table::new();
        table
            .load_preset(comfy_table::presets::NOTHING)
            .set_header(&self.headers)
            .add_rows(&self.rows);
        // The NOTHING preset pads each cell by one space on both sides: two between columns.
        for line in table.lines() {
            let _ = writeln!(out, " {}", line.trim_end());
        }
    }
}

fn shorten(cell: String) -> String {
    if cell.chars().count() <= MAX_CELL_CHARS {
        return cell;
    }
    let cut: String = cell.chars().take(MAX_CELL_CHARS - 1).collect();
    format!("{cut}…")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_and_cut_long_cells() {
        let mut table = Table::new(&["a", "bb"]);
        table.row(vec!["xyz".into(), "1".into()]);
        table.row(vec!["q".into(), "é".repeat(100)]);
        let mut out = String::new();
        table.render_into(&mut out, "T");
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[1], "T (2)");
        assert_eq!(lines[2], "  a    bb");
        assert_eq!(lines[3], "  xyz  1");
        assert!(lines[4].ends_with('…'));
        assert_eq!(lines[4].chars().count(), 2 + 3 + 2 + MAX_CELL_CHARS);
    }

    #[test]
    fn renders_users_orgs_and_memberships() {
        let mock = MockZendesk::new();
        let user = mock.seed_user(
            "acme",
            serde_json::json!({"name": "Ada", "email": "ada@example.com", "external_id": "u1"}),
        );
        let org = mock.seed_organization("acme", serde_json::json!({"name": "Globex"}));
        mock.seed_membership("acme", user, org);
        let text = render_mock_state(&mock);
        assert!(
            text.contains("=== mock Zendesk account `acme` ==="),
            "{text}"
        );
        assert!(text.contains("Ada"), "{text}");
        assert!(text.contains("ada@example.com"), "{text}");
        assert!(text.contains("Ada (u1)  Globex"), "{text}");
    }
}
