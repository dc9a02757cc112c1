//! `tourniquet incidents`: what happened lately, newest first, from the index of incidents by
//! day: one query per day the span touches, never a scan of the table.

use std::time::SystemTime;

use futures_util::stream::{self, StreamExt, TryStreamExt};
use serde_json::json;
use tourniquet::history::{History, IncidentLine};
use tourniquet::time::rfc3339;

use crate::args::Listing;
use crate::failure::Failure;
use crate::output::Output;
use crate::span::Span;

/// Days read at once: a week's listing is one round trip.
const DAYS_AT_ONCE: usize = 8;

/// Statuses that still wait for something: a person, or the sweep.
const OPEN: [&str; 4] = ["in-progress", "held", "partial", "failed"];

pub async fn list(
    history: &History,
    listing: &Listing,
    now: SystemTime,
) -> Result<Output, Failure> {
    let span = Span::parse(&listing.since)?;
    let from = rfc3339(span.start(now));
    let days: Vec<Vec<IncidentLine>> = stream::iter(span.days(now))
        .map(|day| {
            let from = from.clone();
            async move { history.incidents_on(&day, &from).await }
        })
        .buffered(DAYS_AT_ONCE)
        .try_collect()
        .await?;
    let lines: Vec<IncidentLine> = days
        .into_iter()
        .flatten()
        .filter(|l| listed(l, listing))
        .collect();
    Ok(Output {
        text: lines.iter().map(line).collect::<Vec<_>>().join("\n"),
        json: json!({ "incidents": lines }),
    })
}

fn listed(line: &IncidentLine, listing: &Listing) -> bool {
    let open = !listing.open || OPEN.contains(&line.status.as_str());
    let action = listing.action.is_none_or(|a| a.as_str() == line.action);
    open && action
}

/// One incident, one line: id, action, resource, where, status, opened, trigger.
fn line(l: &IncidentLine) -> String {
    let place = match (&l.account, &l.region) {
        (Some(a), Some(r)) => format!("{a}/{r}"),
        _ => "-".into(),
    };
    let opened = l.opened_at.as_deref().unwrap_or("-");
    format!(
        "{}  {}  {}  {place}  {}  opened {opened}  {}",
        l.id, l.action, l.resource, l.status, l.trigger
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::Action;

    fn incident(status: &str, action: &str) -> IncidentLine {
        IncidentLine {
            id: "2026-12-04T03:12:09Z#d-1".into(),
            resource: "i-0abc".into(),
            action: action.into(),
            function: "isolate-instance".into(),
            status: status.into(),
            account: Some("111122223333".into()),
            region: Some("us-east-1".into()),
            trigger: "tag Tainted".into(),
            actor: None,
            opened_at: Some("2026-12-04T03:12:09Z".into()),
            closed_at: None,
        }
    }

    #[test]
    fn open_means_waiting_for_someone() {
        let open = Listing {
            open: true,
            since: "24h".into(),
            action: None,
        };
        assert!(listed(&incident("held", "isolate"), &open));
        assert!(listed(&incident("in-progress", "heal"), &open));
        assert!(!listed(&incident("remediated", "isolate"), &open));
        let isolations = Listing {
            open: false,
            since: "24h".into(),
            action: Some(Action::Isolate),
        };
        assert!(listed(&incident("remediated", "isolate"), &isolations));
        assert!(!listed(&incident("remediated", "disable"), &isolations));
    }

    #[test]
    fn a_line_names_where_and_when() {
        assert_eq!(
            line(&incident("held", "isolate")),
            "2026-12-04T03:12:09Z#d-1  isolate  i-0abc  111122223333/us-east-1  held  opened \
             2026-12-04T03:12:09Z  tag Tainted"
        );
    }
}
