//! A CloudFormation deploy of this stack is the change process: a call it made on
//! Tourniquet's resources refreshes their records instead of paging. A call through
//! another stack is tampering like any other.

use serde_json::{Value, json};
use tourniquet::errors::sdk_message;
use tourniquet::own::Own;
use tourniquet::{Context, Trigger, Verdict, VerifyError};

use crate::Guard;
use crate::disarmed::Disarmed;
use crate::{lambdas, rules};

/// Where CloudTrail says a call came from when CloudFormation made it for a deploy.
const CLOUDFORMATION: &str = "cloudformation.amazonaws.com";

/// How long after this stack was created or updated a call through CloudFormation is taken
/// for its deploy.
const DEPLOY_WINDOW_SECS: i64 = 3600;

/// Whether a stack created or updated at `updated` (epoch seconds) is deploying now: within
/// the window after it, and not in the future.
fn deploying(updated: i64, now: std::time::SystemTime) -> bool {
    let now = now
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    updated <= now + 60 && now - updated <= DEPLOY_WINDOW_SECS
}

impl Guard {
    /// Whether the call behind the trigger is this stack's deploy: made through
    /// CloudFormation while the stack was being created or updated. Unknown is no.
    pub(crate) async fn by_this_deploy(&self, ctx: &Context<'_>) -> bool {
        let Trigger::ApiCall(_, call) = ctx.trigger else {
            return false;
        };
        let (Some(CLOUDFORMATION), Some(stack)) =
            (call.source_ip.as_deref(), self.config.stack_name.as_deref())
        else {
            return false;
        };
        match self
            .cloudformation
            .describe_stacks()
            .stack_name(stack)
            .send()
            .await
        {
            Ok(out) => out
                .stacks()
                .first()
                .and_then(|s| s.last_updated_time().or(s.creation_time()))
                .is_some_and(|t| deploying(t.secs(), ctx.now)),
            Err(e) => {
                tracing::warn!(error = %sdk_message(&e), "the stack could not be read: the call is taken for tampering");
                false
            }
        }
    }

    /// A deploy changed the resource: what it is now is the record.
    pub(crate) async fn after_deploy(&self, own: &Own) -> Result<Verdict<Disarmed>, VerifyError> {
        let deployed = |record: Option<Value>| match record {
            Some(known_good) => Verdict::Healthy {
                reason: format!(
                    "{} changed by a deploy of the stack (recorded)",
                    own.describe()
                ),
                known_good,
            },
            None => Verdict::NothingToDo(format!(
                "{} changed by a deploy of the stack",
                own.describe()
            )),
        };
        Ok(match own {
            // A rule the deploy removed is recorded as removed, so that the audit does not
            // put it back (a record that is no rule reads as none).
            Own::Rule(name) => deployed(Some(
                match rules::read(&self.events, name)
                    .await
                    .map_err(VerifyError::read)?
                {
                    Some(rule) => json!(rule),
                    None => json!({"removed_by_a_deploy": true}),
                },
            )),
            Own::Function(name) => deployed(
                lambdas::read(&self.lambda, name)
                    .await
                    .map_err(VerifyError::read)?
                    .map(|f| json!(f)),
            ),
            _ => deployed(None),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn a_call_through_cloudformation_is_a_deploy_within_the_hour_after_the_stack_changed() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        assert!(deploying(1_000_000 - 120, now));
        assert!(
            !deploying(1_000_000 - 2 * 3600, now),
            "a stack updated long ago"
        );
        assert!(!deploying(1_000_000 + 3600, now), "never from the future");
    }
}
