//! CloudTrail Lake event data stores: a store whose ingestion is stopped, or that is pending
//! deletion, keeps no new events while its trails and selectors look untouched.
//!
//! A store is healed when a call stopped or deleted it (it was ingesting a moment before),
//! or when the audit finds it stopped after having recorded it ingesting. A store never
//! seen ingesting may be stopped on purpose (Lake bills by ingestion): it is left alone.

use aws_sdk_cloudtrail::Client;
use aws_sdk_cloudtrail::error::ProvideErrorMetadata;
use serde::{Deserialize, Serialize};
use tourniquet::Step;
use tourniquet::errors::sdk_message;

/// The history kind under which the audit keeps the stores it saw ingesting.
pub const BASELINE: &str = "event-data-store";
/// The calls that stop a store.
pub const TAMPERING: [&str; 2] = ["StopEventDataStoreIngestion", "DeleteEventDataStore"];

/// An event data store, by ARN, and the region its calls go to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreRef {
    pub store_arn: String,
    pub region: String,
}

impl StoreRef {
    /// What a call names: the store's ARN, or the id at its end.
    pub fn resolve(name: &str, region: &str, partition: &str, account: &str) -> Option<Self> {
        let id_ok = |id: &str| {
            (1..=128).contains(&id.len())
                && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        };
        if let Some(rest) = name.strip_prefix("arn:") {
            let parts: Vec<&str> = rest.splitn(5, ':').collect();
            let [_, "cloudtrail", store_region, _, resource] = parts.as_slice() else {
                return None;
            };
            let id = resource.strip_prefix("eventdatastore/")?;
            return (tourniquet_trail::is_region(store_region) && id_ok(id)).then(|| Self {
                store_arn: name.to_owned(),
                region: (*store_region).to_owned(),
            });
        }
        (id_ok(name) && tourniquet_trail::is_region(region)).then(|| Self {
            store_arn: format!(
                "arn:{partition}:cloudtrail:{region}:{account}:eventdatastore/{name}"
            ),
            region: region.to_owned(),
        })
    }
}

/// What the live store says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ingestion {
    /// Ingesting, or about to.
    On,
    /// Stopped or stopping: the status, as CloudTrail names it.
    Stopped(String),
    PendingDeletion,
    Gone,
}

/// Reads the store's status.
pub async fn ingestion(ct: &Client, store: &StoreRef) -> Result<Ingestion, String> {
    match ct
        .get_event_data_store()
        .event_data_store(&store.store_arn)
        .send()
        .await
    {
        Ok(out) => Ok(match out.status().map(|s| s.as_str()) {
            Some("STOPPED_INGESTION" | "STOPPING_INGESTION") => {
                Ingestion::Stopped(out.status().map(|s| s.as_str()).unwrap_or_default().into())
            }
            Some("PENDING_DELETION") => Ingestion::PendingDeletion,
            _ => Ingestion::On,
        }),
        Err(e) if e.code() == Some("EventDataStoreNotFoundException") => Ok(Ingestion::Gone),
        Err(e) => Err(format!("GetEventDataStore: {}", sdk_message(&e))),
    }
}

/// The stores of this region.
pub async fn list(ct: &Client, region: &str) -> Result<Vec<StoreRef>, String> {
    let mut stores = Vec::new();
    let mut token = None;
    loop {
        let out = ct
            .list_event_data_stores()
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| format!("ListEventDataStores: {}", sdk_message(&e)))?;
        stores.extend(out.event_data_stores().iter().filter_map(|s| {
            Some(StoreRef {
                store_arn: s.event_data_store_arn()?.to_owned(),
                region: region.to_owned(),
            })
        }));
        match out.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_owned()),
            _ => return Ok(stores),
        }
    }
}

/// Restores a store pending deletion, then starts its ingestion if it is stopped.
pub async fn restart(ct: &Client, store: &StoreRef, live: &Ingestion) -> Vec<Step> {
    let mut steps = Vec::new();
    if *live == Ingestion::PendingDeletion {
        let restored = ct
            .restore_event_data_store()
            .event_data_store(&store.store_arn)
            .send()
            .await;
        match restored {
            Ok(out) if out.status().map(|s| s.as_str()) == Some("ENABLED") => {
                steps.push(Step::ok("restore-store", "restored and ingesting"));
                return steps;
            }
            Ok(_) => steps.push(Step::ok("restore-store", "restored")),
            Err(e) => {
                steps.push(Step::critical("restore-store", sdk_message(&e)));
                return steps;
            }
        }
    }
    let started = ct
        .start_event_data_store_ingestion()
        .event_data_store(&store.store_arn)
        .send()
        .await;
    steps.push(match started {
        Ok(_) => Step::ok(
            "start-ingestion",
            format!("{} ingesting again", store.store_arn),
        ),
        Err(e) => Step::critical("start-ingestion", sdk_message(&e)),
    });
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_resolves_from_its_arn_or_its_id() {
        let by_id = StoreRef::resolve(
            "EXAMPLE-f852-4e8f-8bd1-bcf6cEXAMPLE",
            "eu-west-1",
            "aws",
            "1",
        )
        .unwrap();
        assert_eq!(
            by_id.store_arn,
            "arn:aws:cloudtrail:eu-west-1:1:eventdatastore/EXAMPLE-f852-4e8f-8bd1-bcf6cEXAMPLE"
        );
        let by_arn = StoreRef::resolve(
            "arn:aws:cloudtrail:us-west-2:1:eventdatastore/abc",
            "eu-west-1",
            "aws",
            "1",
        )
        .unwrap();
        assert_eq!(by_arn.region, "us-west-2");
        assert!(StoreRef::resolve("arn:aws:s3:::bucket", "us-east-1", "aws", "1").is_none());
        assert!(StoreRef::resolve("../x", "us-east-1", "aws", "1").is_none());
    }
}
