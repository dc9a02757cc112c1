//! `tourniquet show`: one incident's whole story, as history recorded it.

use serde_json::{Value, json};
use tourniquet::history::History;

use crate::failure::Failure;
use crate::output::Output;
use crate::target::{Found, find};

pub async fn show(history: &History, incident: &str) -> Result<Output, Failure> {
    let found = find(history, incident).await?;
    Ok(Output {
        text: story(&found),
        json: json!({ "resource": found.resource, "incident": found.record }),
    })
}

/// The incident for a person: what, where, why, what was there before, what was done.
fn story(found: &Found) -> String {
    let r = &found.record;
    let place = match (&r.account, &r.region) {
        (Some(a), Some(region)) => format!(" (account {a}, {region})"),
        _ => String::new(),
    };
    let mut lines = vec![
        format!("Incident {}", r.sk),
        format!("  action    {} ({})", r.action, r.function),
        format!("  resource  {}{place}", found.resource),
        format!("  status    {}", r.status),
        format!("  trigger   {}", r.trigger),
        format!("  by        {}", r.actor.as_deref().unwrap_or("-")),
        format!("  delivery  {}", r.delivery_id),
        format!("  opened    {}", r.opened_at.as_deref().unwrap_or("-")),
        format!(
            "  closed    {}",
            r.closed_at.as_deref().unwrap_or("not yet")
        ),
    ];
    lines.extend(outcome(&r.steps));
    lines.push("State before (what a release restores):".into());
    lines.push(indented(&r.before));
    lines.join("\n")
}

/// Each step and how it ended, or why nothing was done.
fn outcome(steps: &Value) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(name) = steps.get("outcome").and_then(Value::as_str) {
        lines.push(format!("Outcome: {name}"));
    }
    for key in ["reason", "error", "detail"] {
        if let Some(why) = steps.get(key).and_then(Value::as_str) {
            lines.push(format!("  {why}"));
        }
    }
    let listed = steps.get("steps").and_then(Value::as_array);
    for step in listed.into_iter().flatten() {
        let ok = step.get("ok").and_then(Value::as_bool).unwrap_or(false);
        let name = step.get("name").and_then(Value::as_str).unwrap_or("?");
        let detail = step.get("detail").and_then(Value::as_str).unwrap_or("");
        lines.push(format!(
            "  {} {name}: {detail}",
            if ok { "done  " } else { "FAILED" }
        ));
    }
    let plan = steps.get("plan").and_then(Value::as_array);
    for planned in plan.into_iter().flatten().filter_map(Value::as_str) {
        lines.push(format!("  would {planned}"));
    }
    if lines.is_empty() {
        lines.push(
            "Outcome: not recorded yet (the incident is open, or its invocation died)".into(),
        );
    }
    lines
}

fn indented(value: &Value) -> String {
    let text = serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string());
    text.lines()
        .map(|l| format!("  {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_read_as_done_or_failed() {
        let steps = json!({"outcome": "partial", "steps": [
            {"name": "quarantine", "ok": true, "detail": "sg-1"},
            {"name": "revoke", "ok": false, "detail": "AccessDenied"},
        ]});
        assert_eq!(
            outcome(&steps),
            [
                "Outcome: partial",
                "  done   quarantine: sg-1",
                "  FAILED revoke: AccessDenied"
            ]
        );
        let held = json!({"outcome": "held", "reason": "3 of 3 isolations in the last hour"});
        assert_eq!(
            outcome(&held),
            ["Outcome: held", "  3 of 3 isolations in the last hour"]
        );
        assert_eq!(outcome(&Value::Null).len(), 1);
    }
}
