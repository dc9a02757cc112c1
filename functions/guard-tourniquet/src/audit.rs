//! The hourly audit: every resource the guard watches is checked, whether or not an event
//! told of it, and the rules and functions found as deployed are recorded.

use tourniquet::Unavailable;
use tourniquet::history::HistoryError;
use tourniquet::own::Own;
use tourniquet::{Case, Context, Intake, IntakeError, Verdict};

use crate::Guard;
use crate::disarmed::Disarmed;
use crate::{lambdas, rules};

impl Guard {
    /// Everything the guard watches: the rules delivering to the functions, the functions,
    /// the keys, the table and the topic.
    pub(crate) async fn audit(&self) -> Result<Intake<Own>, IntakeError> {
        let own = &self.config.own;
        let (delivering, recorded) = tokio::join!(
            rules::delivering_to(&self.events, &own.functions),
            self.history.baselines(rules::BASELINE)
        );
        let mut names = delivering.map_err(Unavailable::Read)?;
        // A rule history knows is watched even when it delivers nowhere now.
        names.extend(recorded.unwrap_or_default().into_iter().map(|(n, _)| n));
        names.sort();
        names.dedup();
        let watched = names
            .into_iter()
            .map(Own::Rule)
            .chain(
                own.function_names()
                    .into_iter()
                    .map(|f| Own::Function(f.to_owned())),
            )
            .chain(own.keys.iter().cloned().map(Own::Key))
            .chain([Own::Table(own.table.clone()), Own::Topic(own.topic.clone())]);
        Ok(Intake::Cases(
            watched
                .map(|o| Case {
                    resource: o.resource(),
                    target: o,
                })
                .collect(),
        ))
    }

    /// A healthy rule or function, as the audit found it or a deploy left it, becomes its
    /// record.
    pub(crate) async fn record_as_deployed(
        &self,
        ctx: &Context<'_>,
        case: &Case<Own>,
        verdict: &Verdict<Disarmed>,
    ) -> Result<(), HistoryError> {
        let Verdict::Healthy { known_good, .. } = verdict else {
            return Ok(());
        };
        let (kind, name) = match &case.target {
            Own::Rule(n) => (rules::BASELINE, n),
            Own::Function(n) => (lambdas::BASELINE, n),
            _ => return Ok(()),
        };
        self.history
            .put_baseline(kind, name, known_good, ctx.now)
            .await
    }
}
