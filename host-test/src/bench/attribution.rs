//! Zendesk calls per event, by event type. One call per event is plain counting; in a batch, a
//! bulk request serves several events, so each call is shared equally by the events whose
//! outcome lists it (the plugin reports, per event, the calls made for it).

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::runner::EventReport;

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct CallsByType {
    pub identify: f64,
    pub track: f64,
    pub group: f64,
    /// All requests the mock received, over all events.
    pub overall: f64,
}

impl CallsByType {
    pub fn of(reports: &[EventReport], requests: usize) -> CallsByType {
        let mut shares: HashMap<(Option<u64>, String), usize> = HashMap::new();
        for report in reports {
            if report.batch.is_some() {
                let listed: std::collections::HashSet<String> =
                    report.calls.iter().map(ToString::to_string).collect();
                for call in listed {
                    *shares.entry((report.batch, call)).or_default() += 1;
                }
            }
        }
        let mut calls: BTreeMap<&str, f64> = BTreeMap::new();
        let mut events: BTreeMap<&str, f64> = BTreeMap::new();
        for report in reports {
            *events.entry(&report.event_type).or_default() += 1.0;
            let spent: f64 = report
                .calls
                .iter()
                .map(|call| match report.batch {
                    None => 1.0,
                    Some(_) => 1.0 / shares[&(report.batch, call.to_string())] as f64,
                })
                .sum();
            *calls.entry(&report.event_type).or_default() += spent;
        }
        let per = |kind: &str| {
            let n = events.get(kind).copied().unwrap_or(0.0);
            if n == 0.0 {
                0.0
            } else {
                calls.get(kind).copied().unwrap_or(0.0) / n
            }
        };
        CallsByType {
            identify: per("identify"),
            track: per("track"),
            group: per("group"),
            overall: requests as f64 / reports.len().max(1) as f64,
        }
    }
}
