//! Which API calls are offenses, and what each weakens: a call on a trail, or on a trail's
//! bucket or key, counts only when it weakens the trail (judged by the trail model); a call
//! on one of Tourniquet's own resources, when it disarms it.

use tourniquet::events::{ApiCall, Envelope};
use tourniquet::own::Own;
use tourniquet::{Case, Intake, IntakeError, Trigger};
use tourniquet_trail::touched;

use crate::Disabler;
use crate::offender::Offender;
use crate::offense::Offense;

/// Services whose calls are offenses only when they disarm Tourniquet itself. (Rules are
/// not among them: whether a rule is Tourniquet's takes reading it, which guard-tourniquet
/// does.)
const DISARMING_SOURCES: &[&str] = &[
    "events.amazonaws.com",
    "lambda.amazonaws.com",
    "dynamodb.amazonaws.com",
    "sns.amazonaws.com",
    "iam.amazonaws.com",
];

/// What a call weakens, as told after its name (`: disarms …`), or why it is no offense.
type Weakening = Result<String, String>;

impl Disabler {
    /// The offense in an API call, under its offender's key.
    pub(crate) async fn offense_in(
        &self,
        trigger: &Trigger,
    ) -> Result<Intake<Offense>, IntakeError> {
        let Trigger::ApiCall(envelope, call) = trigger else {
            return Ok(Intake::Ignore("offenses are API calls".into()));
        };
        let offender = Offender::of(&call.principal);
        let weakens = match self.weakening(trigger, envelope, call).await? {
            Ok(weakens) => weakens,
            Err(why) => return Ok(Intake::Ignore(why)),
        };
        let event = match &call.error_code {
            Some(code) => format!("{}{weakens} (attempt, failed: {code})", call.event_name),
            None => format!("{}{weakens}", call.event_name),
        };
        Ok(Intake::Cases(vec![Case {
            resource: offender.key().to_owned(),
            target: Offense {
                principal: call.principal.clone(),
                event,
                succeeded: call.error_code.is_none(),
                region: call.region.clone(),
            },
        }]))
    }

    /// What the call weakens, by the service it calls.
    async fn weakening(
        &self,
        trigger: &Trigger,
        envelope: &Envelope,
        call: &ApiCall,
    ) -> Result<Weakening, IntakeError> {
        // A call on a trail counts only when it weakens it, judged by the trail model.
        if call.event_source == "cloudtrail.amazonaws.com" {
            return Ok(trail_weakening(call));
        }
        if let Some(own) = self
            .config
            .own
            .named(call)
            .filter(|o| !matches!(o, Own::Rule(_)))
            .filter(|_| envelope.account == self.members.home().account)
        {
            return Ok(disarming(call, &own));
        }
        if touched::is_delivery_call(call) {
            return self.delivery_weakening(trigger, call).await;
        }
        if DISARMING_SOURCES.contains(&call.event_source.as_str()) {
            return Ok(Err(format!(
                "{} names none of Tourniquet's functions, keys, table, topic or roles: not an \
                 offense",
                call.event_name
            )));
        }
        Ok(Ok(String::new()))
    }

    /// A call on a bucket or a key counts only when it is a trail's, and weakens it.
    async fn delivery_weakening(
        &self,
        trigger: &Trigger,
        call: &ApiCall,
    ) -> Result<Weakening, IntakeError> {
        let r = self.clients.get(&self.members.scope_of(trigger)).await?;
        let trails = touched::trails_touched(&r.cloudtrail, call).await?;
        let found = tourniquet_trail::weakenings_of(&call.event_name, &call.request_parameters);
        if trails.is_empty() || found.is_empty() {
            return Ok(Err(format!(
                "{} does not weaken a trail's bucket or key: not an offense",
                call.event_name
            )));
        }
        let names: Vec<&str> = trails.iter().map(|t| t.name.as_str()).collect();
        Ok(Ok(format!(
            ": {} (trail {})",
            found.join(", "),
            names.join(", ")
        )))
    }
}

fn trail_weakening(call: &ApiCall) -> Weakening {
    let found = tourniquet_trail::weakenings_of(&call.event_name, &call.request_parameters);
    if found.is_empty() {
        return Err(format!(
            "{} only adds coverage: not an offense",
            call.event_name
        ));
    }
    Ok(format!(": {}", found.join(", ")))
}

/// A call that disarms one of Tourniquet's own resources. A deploy of the stack changes its
/// resources through CloudFormation; whether a call through CloudFormation was this stack's
/// deploy, the guard decides and pages.
fn disarming(call: &ApiCall, own: &Own) -> Weakening {
    if call.source_ip.as_deref() == Some("cloudformation.amazonaws.com") {
        return Err(format!(
            "{} on {} made through CloudFormation: not counted",
            call.event_name,
            own.describe()
        ));
    }
    Ok(format!(": disarms {}", own.describe()))
}
