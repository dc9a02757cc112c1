//! The intake stage: the cases an event names, under the keys history knows them by. The
//! instances of an event naming many are read here, in one round for the whole event.

use std::sync::Arc;

use tourniquet::Unavailable;
use tourniquet::members::Scope;
use tourniquet::{Case, Intake, IntakeError, Trigger};

use crate::Isolator;
use crate::instance;
use crate::intake;
use crate::target::Seen;

impl Isolator {
    /// The cases of `trigger`: read case by case beside the incident lock, or all at once
    /// when the event names more than [`instance::READ_AHEAD_ABOVE`].
    pub(crate) async fn cases(&self, trigger: &Trigger) -> Result<Intake<Seen>, IntakeError> {
        let scope = self.members.scope_of(trigger);
        let unread = |cases: Vec<Case<()>>| {
            cases
                .into_iter()
                .map(|c| Case {
                    resource: self.key(&scope, &c.resource),
                    target: Seen(None),
                })
                .collect()
        };
        Ok(match intake::intake(trigger, &self.config)? {
            Intake::Cases(cases) if cases.len() > instance::READ_AHEAD_ABOVE => {
                self.read_ahead(&scope, cases).await?
            }
            Intake::Cases(cases) => Intake::Cases(unread(cases)),
            Intake::Some { cases, skipped } => Intake::Some {
                cases: unread(cases),
                skipped,
            },
            Intake::Ignore(why) => Intake::Ignore(why),
        })
    }

    /// Reads the instances of an event naming many in one round, so that an event naming 1000
    /// ids spends a handful of requests on all of them, and keeps the cases of those that
    /// exist with what was read.
    async fn read_ahead(
        &self,
        scope: &Scope,
        cases: Vec<Case<()>>,
    ) -> Result<Intake<Seen>, IntakeError> {
        let ids: Vec<String> = cases.iter().map(|c| c.resource.clone()).collect();
        let (mut live, known) = self.read(scope, &ids).await.map_err(Unavailable::Read)?;
        let mut kept = Vec::new();
        let mut gone = Vec::new();
        for case in cases {
            match live.remove(&case.resource) {
                Some(inst) if inst.state != "terminated" => kept.push(Case {
                    target: Seen(Some(Arc::new((inst, known.clone())))),
                    resource: self.key(scope, &case.resource),
                }),
                _ => gone.push(case.resource),
            }
        }
        if gone.is_empty() {
            return Ok(Intake::Cases(kept));
        }
        Ok(Intake::Some {
            cases: kept,
            skipped: skipped(&gone),
        })
    }
}

/// Why the instances in `gone` have no case, naming the first 20 of them.
fn skipped(gone: &[String]) -> String {
    let named: Vec<&str> = gone.iter().take(20).map(String::as_str).collect();
    format!(
        "{} named instance(s) do not exist or are terminated: {}{}",
        gone.len(),
        named.join(", "),
        if gone.len() > named.len() {
            ", ..."
        } else {
            ""
        }
    )
}
