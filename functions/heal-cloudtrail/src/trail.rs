//! A trail's reads and writes: its live configuration (DescribeTrails, GetTrailStatus,
//! GetEventSelectors, and its bucket and key beside them) and its baseline; putting it back
//! (its bucket and key first, then UpdateTrail, PutEventSelectors, StartLogging, or
//! CreateTrail for a trail gone). Calls go to the trail's home region.

use std::time::SystemTime;

use aws_sdk_cloudtrail::Client;
use aws_sdk_cloudtrail::error::ProvideErrorMetadata;
use tourniquet::Step;
use tourniquet::errors::sdk_message;
use tourniquet::history::History;
use tourniquet_trail::{Selectors, TrailConfig, TrailRef, key, touched};

use crate::bucket;
use tourniquet::members::PerScope;

use crate::clients::Clients;
use crate::watched::Heal;

/// The history kind under which trail baselines are kept.
pub const BASELINE: &str = "trail";

/// The live configuration, or `None` if the trail does not exist.
pub async fn read(
    clients: &PerScope<Clients>,
    trail: &TrailRef,
) -> Result<Option<TrailConfig>, String> {
    let ct = clients
        .for_key(&trail.arn)
        .await
        .map_err(|e| e.to_string())?
        .client_for(&trail.home_region);
    let (described, status, selectors) = tokio::join!(
        ct.describe_trails()
            .trail_name_list(&trail.name)
            .include_shadow_trails(false)
            .send(),
        ct.get_trail_status().name(&trail.name).send(),
        ct.get_event_selectors().trail_name(&trail.name).send(),
    );
    let described = described.map_err(|e| format!("DescribeTrails: {}", sdk_message(&e)))?;
    let Some(live) = described
        .trail_list()
        .iter()
        .find(|t| t.name() == Some(trail.name.as_str()))
    else {
        return Ok(None);
    };
    let missing = |code: Option<&str>| code == Some("TrailNotFoundException");
    let status = match status {
        Ok(s) => s,
        Err(e) if missing(e.code()) => return Ok(None),
        Err(e) => return Err(format!("GetTrailStatus: {}", sdk_message(&e))),
    };
    let selectors = match selectors {
        Ok(s) => Selectors::from_sdk(s.event_selectors(), s.advanced_event_selectors()),
        Err(e) if missing(e.code()) => return Ok(None),
        Err(e) => return Err(format!("GetEventSelectors: {}", sdk_message(&e))),
    };
    let mut config = TrailConfig::from_sdk(live, trail, selectors, &status, SystemTime::now());
    read_delivery(clients, &mut config).await?;
    Ok(Some(config))
}

/// The trail's bucket and key, read at once.
async fn read_delivery(
    clients: &PerScope<Clients>,
    config: &mut TrailConfig,
) -> Result<(), String> {
    let owner = touched::account_of(&config.trail.arn);
    let logs = bucket::log_prefix(config.prefix.as_deref());
    let account = clients
        .for_key(&config.trail.arn)
        .await
        .map_err(|e| e.to_string())?;
    let s3 = account.s3_in(&config.trail.home_region);
    let (bucket, key) = tokio::join!(
        bucket::read(&account.sdk, &s3, &config.bucket, &logs, owner),
        async {
            match &config.kms_key {
                Some(id) => {
                    Some(key::read(&key::client_for(&account.sdk, &account.kms, id), id).await)
                }
                None => None,
            }
        }
    );
    config.bucket_state = Some(bucket?);
    config.key_state = key;
    Ok(())
}

/// The trail's last known good configuration, if history has a readable one.
pub async fn read_baseline(
    history: &History,
    trail: &TrailRef,
) -> Result<Option<TrailConfig>, String> {
    let stored = history
        .baseline(BASELINE, &trail.arn)
        .await
        .map_err(|e| e.to_string())?;
    Ok(stored.and_then(|v| match serde_json::from_value(v) {
        Ok(b) => Some(b),
        Err(e) => {
            tracing::warn!(arn = %trail.arn, error = %e, "unreadable baseline ignored");
            None
        }
    }))
}

/// Carries out a trail's heal, in order; a store's is `store::restart`.
pub async fn heal(clients: &PerScope<Clients>, trail: &TrailRef, heal: &Heal) -> Vec<Step> {
    let ct = match clients.for_key(&trail.arn).await {
        Ok(account) => account.client_for(&trail.home_region),
        Err(e) => return vec![Step::critical("reach", format!("NOTHING healed: {e}"))],
    };
    let mut steps = Vec::new();
    match heal {
        Heal::Recreate { baseline } => {
            // The bucket may be gone with the trail: claimed again first.
            steps.extend(heal_delivery_of(clients, baseline).await);
            let created = recreate(&ct, baseline).await;
            let ok = created.ok;
            steps.push(created);
            if ok {
                steps.push(restore_selectors(&ct, baseline).await);
                steps.push(start_logging(&ct, &baseline.trail).await);
            }
        }
        Heal::Restore { live, baseline } => {
            steps.extend(restore(clients, &ct, live, baseline).await);
        }
        // No baseline is written here: only the audit keeps one.
        Heal::StartLogging { live } => steps.push(start_logging(&ct, &live.trail).await),
        Heal::Ingestion { .. } => {}
    }
    steps
}

/// Puts back what differs from the baseline in a live trail, its bucket and key first.
async fn restore(
    clients: &PerScope<Clients>,
    ct: &Client,
    live: &TrailConfig,
    baseline: &TrailConfig,
) -> Vec<Step> {
    let mut steps = Vec::new();
    // The bucket and key the trail goes back to: the baseline's, read now when the trail
    // names others.
    if live.bucket != baseline.bucket || live.kms_key != baseline.kms_key {
        steps.extend(heal_delivery_of(clients, baseline).await);
    } else {
        steps.extend(heal_delivery(clients, live, baseline).await);
    }
    if !live.weakened(baseline).is_empty() {
        steps.push(restore_settings(ct, live, baseline).await);
    }
    if !live.selectors.narrower_than(&baseline.selectors).is_empty() {
        steps.push(restore_selectors(ct, baseline).await);
    }
    if baseline.logging && !live.logging {
        steps.push(start_logging(ct, &baseline.trail).await);
    }
    if let Some(error) = &live.delivery_error {
        steps.push(Step::critical(
            "delivery",
            format!(
                "CloudTrail cannot deliver the logs of {} to {}: {error}. The bucket's policy, \
                 the bucket itself or the KMS key must be put right; until then nothing is kept.",
                live.trail.name, live.bucket
            ),
        ));
    }
    steps
}

/// The bucket and key of `baseline`, read now, put back as it had them.
async fn heal_delivery_of(clients: &PerScope<Clients>, baseline: &TrailConfig) -> Vec<Step> {
    let mut live = baseline.clone();
    match read_delivery(clients, &mut live).await {
        Ok(()) => heal_delivery(clients, &live, baseline).await,
        Err(e) => vec![Step::critical("log-bucket", e)],
    }
}

/// Puts the bucket and the key back as the baseline had them, at once, before the trail
/// (which `UpdateTrail` and `CreateTrail` check against them).
async fn heal_delivery(
    clients: &PerScope<Clients>,
    live: &TrailConfig,
    baseline: &TrailConfig,
) -> Vec<Step> {
    let owner = touched::account_of(&baseline.trail.arn);
    let logs = bucket::log_prefix(baseline.prefix.as_deref());
    let account = match clients.for_key(&baseline.trail.arn).await {
        Ok(r) => r,
        Err(e) => return vec![Step::critical("log-bucket", e.to_string())],
    };
    let account = &account;
    let (bucket_steps, key_steps) = tokio::join!(
        async {
            match (&live.bucket_state, &baseline.bucket_state) {
                (Some(now), Some(was)) => bucket::heal(&account.sdk, now, was, &logs, owner).await,
                _ => Vec::new(),
            }
        },
        async {
            match (&live.key_state, &baseline.key_state) {
                (Some(now), Some(was)) => {
                    let kms = key::client_for(&account.sdk, &account.kms, &now.id);
                    key::heal(&kms, now, was).await
                }
                _ => Vec::new(),
            }
        }
    );
    let mut steps = bucket_steps;
    steps.extend(key_steps);
    steps
}

async fn start_logging(ct: &Client, trail: &TrailRef) -> Step {
    // By name, in the home region: AWS also accepts the ARN there.
    match ct.start_logging().name(&trail.name).send().await {
        Ok(_) => Step::ok("start-logging", format!("{} is logging", trail.name)),
        Err(e) => Step::critical("start-logging", sdk_message(&e)),
    }
}

async fn restore_selectors(ct: &Client, baseline: &TrailConfig) -> Step {
    let selectors = &baseline.selectors;
    let mut put = ct.put_event_selectors().trail_name(&baseline.trail.name);
    if !selectors.advanced.is_empty() {
        match selectors.to_sdk_advanced() {
            Ok(adv) => put = put.set_advanced_event_selectors(Some(adv)),
            Err(e) => {
                return Step::critical(
                    "event-selectors",
                    format!("baseline selectors unusable: {e}"),
                );
            }
        }
    } else {
        put = put.set_event_selectors(Some(selectors.to_sdk_basic()));
    }
    match put.send().await {
        Ok(_) => Step::ok("event-selectors", "restored from the baseline"),
        Err(e) => Step::critical("event-selectors", sdk_message(&e)),
    }
}

/// One `UpdateTrail` with every setting that differs from the baseline, from the table
/// of settings.
async fn restore_settings(ct: &Client, live: &TrailConfig, b: &TrailConfig) -> Step {
    let weakened = live.weakened(b);
    let update = weakened
        .iter()
        .fold(ct.update_trail().name(&b.trail.name), |call, setting| {
            (setting.restore)(call, (setting.of)(b))
        });
    let words: Vec<&str> = weakened.iter().map(|s| s.words).collect();
    match update.send().await {
        Ok(_) => Step::ok(
            "update-trail",
            format!("restored from the baseline: {}", words.join(", ")),
        ),
        Err(e) => Step::critical("update-trail", sdk_message(&e)),
    }
}

async fn recreate(ct: &Client, b: &TrailConfig) -> Step {
    let result = ct
        .create_trail()
        .name(&b.trail.name)
        .s3_bucket_name(&b.bucket)
        .set_s3_key_prefix(b.prefix.clone())
        .set_sns_topic_name(b.sns_topic.clone())
        .include_global_service_events(b.global_events)
        .is_multi_region_trail(b.multi_region)
        .enable_log_file_validation(b.log_file_validation)
        .set_kms_key_id(b.kms_key.clone())
        .set_cloud_watch_logs_log_group_arn(b.log_group.clone())
        .set_cloud_watch_logs_role_arn(b.log_role.clone())
        .is_organization_trail(b.organization)
        .send()
        .await;
    match result {
        Ok(_) => Step::ok(
            "create-trail",
            format!("{} created from its baseline", b.trail.name),
        ),
        Err(e) => Step::critical("create-trail", sdk_message(&e)),
    }
}
