//! Which trails and stores an event names: a call that stops, weakens or deletes one, or a
//! call on a trail's bucket or key. The daily audit, which names every one, is `audit`.

use tourniquet::events::{ApiCall, Envelope, EventError, fields};
use tourniquet::members::Scope;
use tourniquet::{Intake, IntakeError, Trigger};
use tourniquet_trail::{TrailRef, touched};

use tourniquet::members::PerScope;

use crate::clients::Clients;
use crate::store::{self, StoreRef};
use crate::watched::Watched;

/// The calls that stop, weaken or delete a trail.
pub const TAMPERING: [&str; 4] = [
    "StopLogging",
    "DeleteTrail",
    "UpdateTrail",
    "PutEventSelectors",
];

/// A call naming, by ARN, a trail or store of another account than the caller's: it could
/// not change it (CloudTrail calls act in the caller's account), and the account named is
/// the caller's choice, so nothing is read there.
fn elsewhere(arn: &str, envelope: &Envelope) -> Option<Intake<Watched>> {
    let account = touched::account_of(arn);
    (account != envelope.account).then(|| {
        Intake::Ignore(format!(
            "the call names {arn}, of account {account}, from account {}: it cannot change it",
            envelope.account
        ))
    })
}

/// The trails whose bucket or key an S3 or KMS call names.
pub async fn trails_of_delivery_call(
    clients: &PerScope<Clients>,
    call: &ApiCall,
    scope: &Scope,
) -> Result<Intake<Watched>, IntakeError> {
    if let Some(code) = &call.error_code {
        return Ok(Intake::Ignore(format!(
            "the {} call failed ({code}): nothing changed",
            call.event_name
        )));
    }
    let account = clients.get(scope).await?;
    let trails = touched::trails_touched(&account.client, call).await?;
    if trails.is_empty() {
        return Ok(Intake::Ignore(format!(
            "{} names no trail's bucket or key",
            call.event_name
        )));
    }
    Ok(Intake::Cases(
        trails
            .into_iter()
            .map(|t| Watched::Trail(t).case())
            .collect(),
    ))
}

/// The trail or store a CloudTrail call stops, weakens or deletes. Reads nothing.
pub fn trail_of_call(partition: &str, trigger: &Trigger) -> Result<Intake<Watched>, EventError> {
    let Trigger::ApiCall(envelope, call) = trigger else {
        return Ok(Intake::Ignore("not a CloudTrail API call".into()));
    };
    if call.event_source == "cloudtrail.amazonaws.com"
        && store::TAMPERING.contains(&call.event_name.as_str())
    {
        let params = fields("detail.requestParameters", &call.request_parameters)?;
        let name = params.str("eventDataStore")?;
        let store = StoreRef::resolve(name, &call.region, partition, &envelope.account)
            .ok_or_else(|| EventError::Invalid {
                field: "detail.requestParameters.eventDataStore".into(),
                reason: format!("{name:?} is not an event data store ARN or id"),
            })?;
        return Ok(elsewhere(&store.store_arn, envelope)
            .unwrap_or_else(|| Intake::Cases(vec![Watched::Store(store).case()])));
    }
    if call.event_source != "cloudtrail.amazonaws.com"
        || !TAMPERING.contains(&call.event_name.as_str())
    {
        return Ok(Intake::Ignore(format!(
            "{} from {} does not touch a trail",
            call.event_name, call.event_source
        )));
    }
    let params = fields("detail.requestParameters", &call.request_parameters)?;
    let key = if call.event_name == "PutEventSelectors" {
        "trailName"
    } else {
        "name"
    };
    let name = params.str(key)?;
    let trail =
        TrailRef::resolve(name, &call.region, partition, &envelope.account).ok_or_else(|| {
            EventError::Invalid {
                field: format!("detail.requestParameters.{key}"),
                reason: format!("{name:?} is not a trail name or trail ARN"),
            }
        })?;
    Ok(elsewhere(&trail.arn, envelope)
        .unwrap_or_else(|| Intake::Cases(vec![Watched::Trail(trail).case()])))
}
