//! An offense, and how offenses are counted: every offense is recorded under its offender's
//! key, and counted in a rolling window ("has this happened before?"); a failed attempt
//! counts too.

use std::time::Duration;

use serde::Serialize;
use serde_json::{Value, json};
use tourniquet::history::HistoryError;
use tourniquet::history::{History, OffenseRecord};
use tourniquet::time::rfc3339;
use tourniquet::{Context, Principal, Severity, Verdict, VerifyError};

use crate::config::DisableConfig;
use crate::offender::Offender;

/// An offense, as found in an event.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Offense {
    pub principal: Principal,
    pub event: String,
    /// The call succeeded: it weakened something (a denied attempt did not).
    #[serde(default)]
    pub succeeded: bool,
    /// The region the call was made in (`awsRegion`), where an instance's session is looked up.
    #[serde(default)]
    pub region: String,
}

/// The offenses of one offender in the window, this one included, as every notification
/// tells them.
pub(crate) struct Tally {
    pub offenses: Vec<OffenseRecord>,
    pub count: usize,
    pub limit: usize,
    pub days: u64,
    /// The offender's history, for a person.
    pub record: String,
    pub facts: Value,
}

impl Tally {
    /// An offense within the limit is only told: the offender is not disabled yet.
    pub fn allowed<S>(&self, key: &str) -> Option<Verdict<S>> {
        let (count, limit, days, record) = (self.count, self.limit, self.days, &self.record);
        (count <= limit).then(|| Verdict::Notice {
            severity: Severity::Info,
            headline: format!("offense {count} of {limit} allowed: {key}"),
            detail: format!(
                "{record}\nThe principal is disabled when it has more than {limit} in {days} day(s)."
            ),
            facts: self.facts.clone(),
        })
    }
}

/// The offenses under `key` in the window, with this delivery's.
pub(crate) async fn tally(
    history: &History,
    config: &DisableConfig,
    key: &str,
    ctx: &Context<'_>,
    offense: &Offense,
) -> Result<Tally, VerifyError> {
    let window = config.offense_window;
    let since = ctx.now.checked_sub(window).unwrap_or(std::time::UNIX_EPOCH);
    let mut offenses = history
        .offenses_since(key, since)
        .await
        .map_err(VerifyError::from)?;
    // This delivery counts whether or not its record (the record stage) is written yet.
    if !offenses.iter().any(|o| o.delivery_id == ctx.delivery_id) {
        offenses.push(OffenseRecord {
            at_ms: tourniquet::time::epoch_millis(ctx.now),
            delivery_id: ctx.delivery_id.to_owned(),
            event: offense.event.clone(),
            succeeded: offense.succeeded,
        });
    }
    let count = offenses.len();
    let limit = config.offense_limit as usize;
    let days = window.as_secs() / 86_400;
    let record = format!(
        "{key} has {count} offense(s) in the last {days} day(s):\n{}",
        history_lines(&offenses)
    );
    let facts =
        json!({"principal": key, "offenses": offenses, "limit": limit, "window_days": days});
    Ok(Tally {
        offenses,
        count,
        limit,
        days,
        record,
        facts,
    })
}

/// Every offense is counted, whatever becomes of its incident.
pub(crate) async fn record(
    history: &History,
    window: Duration,
    ctx: &Context<'_>,
    offense: &Offense,
) -> Result<(), HistoryError> {
    let key = Offender::of(&offense.principal).key().to_owned();
    history
        .record_offense(
            &key,
            ctx.delivery_id,
            ctx.now,
            &offense.event,
            offense.succeeded,
            window,
        )
        .await
}

fn history_lines(offenses: &[OffenseRecord]) -> String {
    offenses
        .iter()
        .map(|o| {
            let at = std::time::UNIX_EPOCH + Duration::from_millis(o.at_ms);
            format!("  - {} {}", rfc3339(at), o.event)
        })
        .collect::<Vec<_>>()
        .join("\n")
}
