//! Zendesk's system ticket fields, present in every account from its creation.

use crate::attrs;
use crate::model::{FieldDef, FieldOption};
use crate::time::now_iso8601;

/// Zendesk's system ticket fields, present in every account.
pub(crate) fn system_ticket_fields(first_id: u64) -> Vec<FieldDef> {
    let options = |values: &[&str]| -> Vec<FieldOption> {
        values
            .iter()
            .map(|v| FieldOption {
                name: attrs::humanize(v),
                value: v.to_string(),
            })
            .collect()
    };
    let now = now_iso8601();
    [
        ("subject", "Subject", Vec::new(), true),
        ("description", "Description", Vec::new(), true),
        (
            "status",
            "Status",
            options(&["new", "open", "pending", "hold", "solved"]),
            false,
        ),
        (
            "tickettype",
            "Type",
            options(&["question", "incident", "problem", "task"]),
            false,
        ),
        (
            "priority",
            "Priority",
            options(&["low", "normal", "high", "urgent"]),
            false,
        ),
        ("group", "Group", Vec::new(), false),
        ("assignee", "Assignee", Vec::new(), true),
    ]
    .into_iter()
    .enumerate()
    .map(
        |(position, (field_type, title, options, required))| FieldDef {
            id: first_id + position as u64,
            key: String::new(),
            title: title.to_string(),
            r#type: field_type.to_string(),
            active: true,
            position: position as u64,
            tag: None,
            options,
            required,
            removable: false,
            created_at: now.clone(),
            updated_at: now.clone(),
        },
    )
    .collect()
}
