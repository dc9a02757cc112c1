//! The taint tag: its removal reported, as a release after Tourniquet isolated the instance
//! or as possible tampering before; and a taint gone by the time its instance is checked.

use serde_json::json;
use tourniquet::history::{IncidentRecord, IncidentStatus};
use tourniquet::{Case, Context, Remediation, Severity, Trigger, Verdict, VerifyError};

use crate::Isolator;
use crate::instance::Instance;
use crate::target::{Seen, Target};

impl Isolator {
    /// A `DeleteTags` took the taint off. After Tourniquet isolated the instance that is the
    /// release; before, the taint never took effect, perhaps removed by the attacker on the
    /// box, and a person is told who removed it, as CloudTrail recorded the call.
    pub(crate) async fn taint_removed(
        &self,
        ctx: &Context<'_>,
        case: &Case<Seen>,
    ) -> Result<Verdict<Target>, VerifyError> {
        let (live, incidents) =
            tokio::join!(self.live(case), self.history.incidents(&case.resource));
        let (found, _) = live?;
        let incidents = incidents.map_err(VerifyError::from)?;
        let who = ctx
            .actor
            .map(|p| p.display_arn().to_owned())
            .unwrap_or_else(|| "an unknown principal".to_owned());
        let key = &self.config.taint_key;
        match found {
            None => {
                return Ok(Verdict::NothingToDo(format!(
                    "{} does not exist",
                    case.resource
                )));
            }
            Some(inst) if inst.tags.contains_key(key) => {
                return Ok(Verdict::NothingToDo(format!(
                    "{} carries {key} again",
                    inst.id
                )));
            }
            Some(_) => {}
        }
        if let Some(i) = self.isolation(&incidents) {
            return Ok(Verdict::NothingToDo(format!(
                "{who} removed {key} from {} after Tourniquet isolated it (incident {}): a release",
                case.resource, i.delivery_id
            )));
        }
        Ok(removed_before_isolation(&case.resource, key, &who))
    }

    /// The instance's isolation, isolated or under way: its latest incident, if it acted. An
    /// isolation long past, released since, does not make a new taint's removal a release.
    fn isolation<'i>(&self, incidents: &'i [IncidentRecord]) -> Option<&'i IncidentRecord> {
        let acted = [
            IncidentStatus::Remediated,
            IncidentStatus::Partial,
            IncidentStatus::InProgress,
        ]
        .map(IncidentStatus::as_str);
        incidents
            .iter()
            .rev()
            .find(|i| i.action == self.action())
            .filter(|i| acted.contains(&i.status.as_str()))
    }

    /// For a trigger that asks by the taint, when the live instance no longer carries it:
    /// nothing to do if invoked directly, else a notice, since someone removed it between the
    /// event and the check.
    pub(crate) fn taint_gone(&self, trigger: &Trigger, inst: &Instance) -> Option<Verdict<Target>> {
        // Only a taint asks by the tag: a GuardDuty finding is its own evidence, and the sweep
        // finishes an incident some trigger opened.
        let asks_by_taint = matches!(
            trigger,
            Trigger::ApiCall(..) | Trigger::TagChange(..) | Trigger::Direct(_)
        );
        if !asks_by_taint || inst.tags.contains_key(&self.config.taint_key) {
            return None;
        }
        let gone = format!("{} no longer carries {}", inst.id, self.config.taint_key);
        if matches!(trigger, Trigger::Direct(_)) {
            return Some(Verdict::NothingToDo(gone));
        }
        // The event saw the taint and the live instance does not: someone removed it in
        // between, possibly the attacker on the box.
        Some(Verdict::Notice {
            severity: Severity::Warning,
            headline: format!("taint removed before isolation: {}", inst.id),
            detail: format!(
                "{gone}: the tag was removed after it was set and before it could be acted \
                 on, so nothing was done. A separate notice names who removed it once \
                 CloudTrail reports the DeleteTags call on {}; tag it again if the taint \
                 was real.",
                inst.id
            ),
            facts: json!({"instance": inst.id, "taint_key": self.config.taint_key}),
        })
    }
}

/// `who` removed the taint `key` from `resource` before Tourniquet isolated it: a person
/// decides whether that was the attacker.
fn removed_before_isolation(resource: &str, key: &str, who: &str) -> Verdict<Target> {
    Verdict::Notice {
        severity: Severity::Warning,
        headline: format!("taint removed before isolation: {resource} by {who}"),
        detail: format!(
            "{who} removed {key} from {resource} before Tourniquet isolated it, so nothing \
             was done. If that principal is not a person who meant to withdraw the taint (the \
             instance's own role, an unknown user), treat it as the attacker: tag the \
             instance again and look at what that principal did."
        ),
        facts: json!({"instance": resource, "taint_key": key, "removed_by": who}),
    }
}
