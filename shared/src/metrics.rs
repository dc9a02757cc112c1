//! CloudWatch metrics through the embedded metric format: one JSON line on stdout per
//! invocation, which Lambda's log pipeline turns into metrics without an API call on the
//! containment path.

use std::time::SystemTime;

use serde_json::{Map, Value, json};

use crate::time::epoch_millis;

pub const NAMESPACE: &str = "Tourniquet";

/// The counts of one invocation.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// Remediations carried out (fully or in part).
    pub taken: u32,
    /// Cases the safeguard held, or that went to a human instead.
    pub held: u32,
    /// Remediations with at least one failed step, and cases that could not be verified.
    pub failed: u32,
    /// Scheduled audits handled: a heartbeat alarm pages when none ran for a day.
    pub audits: u32,
}

/// The EMF document for `counts`, dimensioned by function.
pub fn document(function: &str, counts: Counts, at: SystemTime) -> Value {
    let names = ["ActionsTaken", "ActionsHeld", "ActionsFailed", "AuditsRun"];
    let metrics: Vec<Value> = names
        .iter()
        .map(|n| json!({"Name": n, "Unit": "Count"}))
        .collect();
    let mut doc = Map::new();
    doc.insert(
        "_aws".into(),
        json!({
            "Timestamp": epoch_millis(at),
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["Function"]],
                "Metrics": metrics,
            }],
        }),
    );
    doc.insert("Function".into(), json!(function));
    let values = [counts.taken, counts.held, counts.failed, counts.audits];
    for (name, value) in names.iter().zip(values) {
        doc.insert((*name).into(), json!(value));
    }
    Value::Object(doc)
}

/// Writes the EMF line. It goes to stdout on its own line: Lambda extracts metrics from
/// stdout lines that are EMF JSON, whatever the log format.
pub fn emit(function: &str, counts: Counts) {
    println!("{}", document(function, counts, SystemTime::now()));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emf_document_declares_every_metric() {
        let doc = document(
            "isolate-instance",
            Counts {
                taken: 2,
                held: 1,
                failed: 0,
                audits: 1,
            },
            SystemTime::UNIX_EPOCH,
        );
        assert_eq!(
            doc["_aws"]["CloudWatchMetrics"][0]["Namespace"],
            "Tourniquet"
        );
        assert_eq!(
            doc["_aws"]["CloudWatchMetrics"][0]["Metrics"][1]["Name"],
            "ActionsHeld"
        );
        assert_eq!(doc["Function"], "isolate-instance");
        assert_eq!(doc["ActionsTaken"], 2);
        assert_eq!(doc["ActionsHeld"], 1);
        assert_eq!(doc["ActionsFailed"], 0);
        assert_eq!(doc["AuditsRun"], 1);
    }
}
