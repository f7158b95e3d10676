//! The input format every source reads: one `{"tenant": "<id>", "event": {...}}` JSON object
//! per line (a file, stdin, a message's payload).
//!
//! Nothing here fails on a bad event line: such lines become [`MalformedLine`]s that the source
//! dead-letters with their raw text, so every input line is accounted for.

use std::collections::HashSet;

use serde_json::Value;

/// One line of the event stream that names a known tenant and carries an event.
#[derive(Clone, Debug)]
pub struct EventLine {
    /// 1-based line number in the input.
    pub line: usize,
    pub tenant: String,
    pub event: Value,
}

impl EventLine {
    /// The event type (`type`, else `action`), lower-cased; "unknown" when absent.
    pub fn event_type(&self) -> String {
        super::event_type(&self.event)
    }

    /// The `event` name of a track call, if any.
    pub fn event_name(&self) -> Option<&str> {
        self.event.get("event").and_then(Value::as_str)
    }
}

/// An input line the runner cannot deliver, with the reason.
#[derive(Clone, Debug, PartialEq)]
pub struct MalformedLine {
    pub line: usize,
    pub raw: String,
    /// The tenant the line named, when it named one.
    pub tenant: Option<String>,
    pub reason: String,
}

/// One input line (1-based `line`): an event, a malformed line with the reason, or `None` for a
/// blank line.
pub fn parse_line(
    line: usize,
    raw: &str,
    known_tenants: &HashSet<&str>,
) -> Option<Result<EventLine, MalformedLine>> {
    parse_line_for(line, raw, Some(known_tenants))
}

/// [`parse_line`] for any tenant (a producer does not know the tenants; workers check them).
pub fn parse_line_any_tenant(line: usize, raw: &str) -> Option<Result<EventLine, MalformedLine>> {
    parse_line_for(line, raw, None)
}

fn parse_line_for(
    line: usize,
    raw: &str,
    known_tenants: Option<&HashSet<&str>>,
) -> Option<Result<EventLine, MalformedLine>> {
    if raw.trim().is_empty() {
        return None;
    }
    Some(match parse_event_line(raw, known_tenants) {
        Ok((tenant, event)) => Ok(EventLine {
            line,
            tenant,
            event,
        }),
        Err((tenant, reason)) => Err(MalformedLine {
            line,
            raw: raw.to_string(),
            tenant,
            reason,
        }),
    })
}

type LineError = (Option<String>, String);

fn parse_event_line(
    raw: &str,
    known_tenants: Option<&HashSet<&str>>,
) -> Result<(String, Value), LineError> {
    let value: Value =
        serde_json::from_str(raw).map_err(|e| (None, format!("not valid JSON: {e}")))?;
    let Value::Object(mut object) = value else {
        return Err((
            None,
            "not a JSON object with \"tenant\" and \"event\"".into(),
        ));
    };
    let tenant = match object.get("tenant") {
        Some(Value::String(tenant)) => tenant.clone(),
        Some(_) => return Err((None, "\"tenant\" must be a string".into())),
        None => return Err((None, "missing \"tenant\"".into())),
    };
    if known_tenants.is_some_and(|known| !known.contains(tenant.as_str())) {
        let reason = format!("unknown tenant {tenant:?} (not in the tenants file)");
        return Err((Some(tenant), reason));
    }
    match object.remove("event") {
        Some(Value::Null) | None => Err((Some(tenant), "missing \"event\"".into())),
        Some(event) => Ok((tenant, event)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_lines_keep_order_and_malformed_lines_keep_reasons() {
        let known: HashSet<&str> = ["a", "b"].into();
        let text = [
            r#"{"tenant": "a", "event": {"type": "identify", "userId": "1"}}"#,
            "",
            r#"{"tenant": "b", "event": {"type": "track", "event": "Paid"}}"#,
            "{not json",
            r#"{"event": {}}"#,
            r#"{"tenant": "zz", "event": {}}"#,
            r#"{"tenant": "a"}"#,
            r#"{"tenant": 7, "event": {}}"#,
            r#"[1]"#,
            r#"{"tenant": "a", "event": {"action": "Group"}}"#,
        ]
        .join("\n");
        let (mut events, mut malformed) = (Vec::new(), Vec::new());
        for (index, raw) in text.lines().enumerate() {
            match parse_line(index + 1, raw, &known) {
                Some(Ok(event)) => events.push(event),
                Some(Err(line)) => malformed.push(line),
                None => {}
            }
        }
        assert_eq!(events.len() + malformed.len(), 9);
        let lines: Vec<_> = events.iter().map(|e| (e.line, e.tenant.as_str())).collect();
        assert_eq!(lines, vec![(1, "a"), (3, "b"), (10, "a")]);
        assert_eq!(events[0].event_type(), "identify");
        assert_eq!(events[1].event_name(), Some("Paid"));
        assert_eq!(events[2].event_type(), "group");

        let reasons: Vec<_> = malformed
            .iter()
            .map(|m| (m.line, m.tenant.as_deref(), m.reason.as_str()))
            .collect();
        assert_eq!(reasons[0].0, 4);
        assert!(reasons[0].2.starts_with("not valid JSON"));
        assert_eq!(reasons[1], (5, None, "missing \"tenant\""));
        assert_eq!(
            reasons[2],
            (
                6,
                Some("zz"),
                "unknown tenant \"zz\" (not in the tenants file)"
            )
        );
        assert_eq!(reasons[3], (7, Some("a"), "missing \"event\""));
        assert_eq!(reasons[4], (8, None, "\"tenant\" must be a string"));
        assert_eq!(malformed[5].raw, "[1]");
    }
}
