//! Many cases held in one invocation make one message, not one each: a person decides about
//! them together, and a storm of pages (an event naming 1000 instances, 997 of them held)
//! would hide the one that matters.

use std::sync::Mutex;

use serde_json::json;

use crate::notify::Pager;
use crate::notify::{Notification, NotifyError, Severity};

/// Up to this many held cases are told one by one; more make one summary.
pub const HANDFUL: usize = 3;
/// Resources listed by name in a summary; the rest are counted (SNS takes 256 KB at most).
const LISTED: usize = 200;

/// A pager that keeps the invocation's `held` notifications until [`HeldBuffer::flush`].
pub struct HeldBuffer<'a, P> {
    inner: &'a P,
    held: Mutex<Vec<Notification>>,
}

impl<'a, P: Pager> HeldBuffer<'a, P> {
    pub fn new(inner: &'a P) -> Self {
        Self {
            inner,
            held: Mutex::new(Vec::new()),
        }
    }

    /// Sends what was kept: each one, or one summary when there are more than a handful.
    pub async fn flush(self, function: &str) -> Flushed {
        let held = self.held.into_inner().unwrap_or_else(|e| e.into_inner());
        let mut flushed = Flushed::default();
        if held.len() <= HANDFUL {
            for n in &held {
                match self.inner.page(n).await {
                    Ok(()) => flushed.sent.push(n.resource.clone()),
                    Err(e) => flushed.failed.push((n.resource.clone(), e.to_string())),
                }
            }
            return flushed;
        }
        let resources = held.iter().map(|n| n.resource.clone());
        match self.inner.page(&summary(function, &held)).await {
            Ok(()) => flushed.sent.extend(resources),
            Err(e) => flushed.failed = resources.map(|r| (r, e.to_string())).collect(),
        }
        flushed
    }
}

/// What a flush did, by held resource.
#[derive(Debug, Default)]
pub struct Flushed {
    /// Told, one by one or in the summary.
    pub sent: Vec<String>,
    /// Not told, with why.
    pub failed: Vec<(String, String)>,
}

impl<P: Pager> Pager for HeldBuffer<'_, P> {
    fn defers(&self, n: &Notification) -> bool {
        n.action == "held" || self.inner.defers(n)
    }

    async fn page(&self, n: &Notification) -> Result<(), NotifyError> {
        if n.action == "held" {
            self.held
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(n.clone());
            return Ok(());
        }
        self.inner.page(n).await
    }
}

/// The case a refused notification is kept on for the retry: a summary names no case of its
/// own (its resource is a count), so it is kept on the first case it lists; the retry finds
/// it there, as that case's delivery comes again, and sends it once.
pub fn kept_on(n: &Notification) -> &str {
    let listed = n.facts["resources"][0]["resource"].as_str();
    match (n.action.as_str(), n.facts["held"].is_u64(), listed) {
        ("held", true, Some(first)) => first,
        _ => &n.resource,
    }
}

/// Whether a notification is a summary of held cases, not one case's message.
pub fn is_summary(n: &Notification) -> bool {
    n.action == "held" && n.facts["held"].is_u64()
}

/// Why a case was held, from its notification's facts.
fn reason(n: &Notification) -> String {
    n.facts["outcome"]["reason"]
        .as_str()
        .unwrap_or(n.headline.as_str())
        .to_owned()
}

/// One CRITICAL message for every held case of an invocation.
pub fn summary(function: &str, held: &[Notification]) -> Notification {
    let lines: Vec<String> = held
        .iter()
        .take(LISTED)
        .map(|n| format!("  - {}: {}", n.resource, reason(n)))
        .collect();
    let more = held.len().saturating_sub(LISTED);
    let mut listing = lines.join("\n");
    if more > 0 {
        listing.push_str(&format!(
            "\n  - and {more} more: every one is in the invocation's answer and in history"
        ));
    }
    let incident = held.first().map(|n| n.incident.clone()).unwrap_or_default();
    Notification {
        severity: Severity::Critical,
        action: "held".to_owned(),
        resource: format!("{} resources", held.len()),
        headline: format!("held {} cases, nothing done", held.len()),
        body: vec![
            format!(
                "{} cases of one event were held: nothing was done to them, and a person must \
                 decide. {function} acted on the others, up to its safeguard.",
                held.len()
            ),
            format!("Held:\n{listing}"),
        ],
        next_steps: vec![
            "Decide now whether this is one attack on many resources or one mistaken event \
             (a script that tagged a whole fleet, say)."
                .to_owned(),
            "If it is an attack, act on the held resources by hand, or raise the safeguard's \
             limit for the time of the incident and deliver the event again."
                .to_owned(),
            "If it is a mistake, nothing is to be done; find who made the event.".to_owned(),
        ],
        links: Vec::new(),
        incident,
        // The event's account and region: its cases' resources name them.
        scope: held.iter().find_map(Notification::named_scope),
        facts: json!({
            "held": held.len(),
            "resources": held.iter().take(LISTED).map(|n| json!({
                "resource": n.resource,
                "reason": reason(n),
            })).collect::<Vec<_>>(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::members::Scope;
    use crate::notify::pager::memory::MemoryPager;

    fn held(resource: &str) -> Notification {
        Notification {
            severity: Severity::Critical,
            action: "held".into(),
            resource: resource.into(),
            headline: format!("held, not isolated: {resource}"),
            facts: json!({"outcome": {"outcome": "held", "reason": "safeguard reached"}}),
            ..Notification::default()
        }
    }

    #[test]
    fn the_summary_is_where_the_held_cases_are() {
        let member = summary(
            "isolate-instance",
            &[held("arn:aws:ec2:eu-west-1:222222222222:instance/i-1")],
        );
        assert_eq!(member.scope, Some(Scope::new("222222222222", "eu-west-1")));
        assert_eq!(summary("isolate-instance", &[held("i-1")]).scope, None);
    }

    #[tokio::test]
    async fn a_handful_goes_one_by_one_more_make_one_summary() {
        let pager = MemoryPager::default();
        let buffer = HeldBuffer::new(&pager);
        for r in ["i-1", "i-2", "i-3"] {
            buffer.page(&held(r)).await.unwrap();
        }
        assert!(pager.taken().is_empty(), "kept until the flush");
        assert!(
            buffer.defers(&held("i-1")),
            "a held message is marked sent at the flush"
        );
        let flushed = buffer.flush("isolate-instance").await;
        assert!(flushed.failed.is_empty());
        assert_eq!(flushed.sent, ["i-1", "i-2", "i-3"]);
        assert_eq!(pager.taken().len(), 3);

        let pager = MemoryPager::default();
        let buffer = HeldBuffer::new(&pager);
        let other = Notification {
            action: "isolate".into(),
            ..held("i-0")
        };
        buffer.page(&other).await.unwrap();
        assert_eq!(pager.taken().len(), 1, "other notifications go at once");
        for i in 0..250 {
            buffer.page(&held(&format!("i-{i}"))).await.unwrap();
        }
        let flushed = buffer.flush("isolate-instance").await;
        assert!(flushed.failed.is_empty());
        assert_eq!(
            flushed.sent.len(),
            250,
            "every case the summary tells is sent"
        );
        let taken = pager.taken();
        assert_eq!(taken.len(), 1, "one summary");
        let s = &taken[0];
        assert_eq!(s.severity, Severity::Critical);
        assert_eq!(s.headline, "held 250 cases, nothing done");
        assert!(s.body[1].contains("i-199: safeguard reached"));
        assert!(s.body[1].contains("and 50 more"));
        assert_eq!(s.facts["held"], 250);
        assert_eq!(kept_on(s), "i-0", "a summary is kept on its first case");
        assert_eq!(kept_on(&held("i-9")), "i-9");
    }
}
