//! Tourniquet's EventBridge rules: what delivers every event to it. A rule disabled, its
//! target removed or its pattern changed blinds a function as surely as deleting it. The
//! audit records each rule as it is deployed; a rule is healed back to that record.

use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::error::ProvideErrorMetadata;
use aws_sdk_eventbridge::types::{DeadLetterConfig, RetryPolicy, RuleState, Target};
use futures_util::future::join_all;
use serde::{Deserialize, Serialize};
use tourniquet::Step;
use tourniquet::errors::sdk_message;

/// The history kind of the rules' records.
pub const BASELINE: &str = "guard-rule";

/// One target of a rule, as far as delivery goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetRecord {
    pub id: String,
    pub arn: String,
    pub input: Option<String>,
    pub retry_attempts: Option<i32>,
    pub max_age_secs: Option<i32>,
    pub dead_letter_arn: Option<String>,
}

/// A rule: its state, what it matches and where it delivers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleRecord {
    pub name: String,
    pub state: String,
    pub event_pattern: Option<String>,
    pub schedule: Option<String>,
    pub description: Option<String>,
    pub targets: Vec<TargetRecord>,
}

impl TargetRecord {
    fn from_sdk(t: &Target) -> Self {
        Self {
            id: t.id().to_owned(),
            arn: t.arn().to_owned(),
            input: t.input().map(str::to_owned),
            retry_attempts: t.retry_policy().and_then(|r| r.maximum_retry_attempts()),
            max_age_secs: t
                .retry_policy()
                .and_then(|r| r.maximum_event_age_in_seconds()),
            dead_letter_arn: t
                .dead_letter_config()
                .and_then(|d| d.arn())
                .map(str::to_owned),
        }
    }

    fn to_sdk(&self) -> Result<Target, String> {
        let retry = RetryPolicy::builder()
            .set_maximum_retry_attempts(self.retry_attempts)
            .set_maximum_event_age_in_seconds(self.max_age_secs)
            .build();
        Target::builder()
            .id(&self.id)
            .arn(&self.arn)
            .set_input(self.input.clone())
            .retry_policy(retry)
            .set_dead_letter_config(
                self.dead_letter_arn
                    .as_ref()
                    .map(|a| DeadLetterConfig::builder().arn(a).build()),
            )
            .build()
            .map_err(|e| e.to_string())
    }
}

/// The names of the rules that deliver to `functions` (ARNs), on the default bus.
pub async fn delivering_to(events: &Client, functions: &[String]) -> Result<Vec<String>, String> {
    let lists = join_all(functions.iter().map(|f| async move {
        let mut names = Vec::new();
        let mut token = None;
        loop {
            let out = events
                .list_rule_names_by_target()
                .target_arn(f)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| format!("ListRuleNamesByTarget {f}: {}", sdk_message(&e)))?;
            names.extend(out.rule_names().iter().cloned());
            match out.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_owned()),
                _ => return Ok::<_, String>(names),
            }
        }
    }))
    .await;
    let mut all = Vec::new();
    for names in lists {
        all.extend(names?);
    }
    all.sort();
    all.dedup();
    Ok(all)
}

/// The live rule, or `None` when it does not exist.
pub async fn read(events: &Client, name: &str) -> Result<Option<RuleRecord>, String> {
    let (rule, targets) = tokio::join!(
        events.describe_rule().name(name).send(),
        events.list_targets_by_rule().rule(name).send()
    );
    let rule = match rule {
        Ok(r) => r,
        Err(e) if e.code() == Some("ResourceNotFoundException") => return Ok(None),
        Err(e) => return Err(format!("DescribeRule {name}: {}", sdk_message(&e))),
    };
    let targets = match targets {
        Ok(t) => t.targets().iter().map(TargetRecord::from_sdk).collect(),
        Err(e) if e.code() == Some("ResourceNotFoundException") => return Ok(None),
        Err(e) => return Err(format!("ListTargetsByRule {name}: {}", sdk_message(&e))),
    };
    Ok(Some(RuleRecord {
        name: name.to_owned(),
        state: rule
            .state()
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default(),
        event_pattern: rule.event_pattern().map(str::to_owned),
        schedule: rule.schedule_expression().map(str::to_owned),
        description: rule.description().map(str::to_owned),
        targets,
    }))
}

impl RuleRecord {
    /// Whether the rule delivers to one of `functions` (ARNs).
    pub fn delivers_to(&self, functions: &[String]) -> bool {
        self.targets.iter().any(|t| functions.contains(&t.arn))
    }

    /// What the rule lost against its record, in words; and, for a rule without a record,
    /// only that it is disabled.
    pub fn losses(&self, record: Option<&Self>) -> Vec<String> {
        let mut found = Vec::new();
        if self.state != RuleState::Enabled.as_str() {
            found.push(format!("rule {} is {}", self.name, self.state));
        }
        let Some(record) = record else {
            return found;
        };
        if (&self.event_pattern, &self.schedule) != (&record.event_pattern, &record.schedule) {
            found.push(format!("what rule {} matches was changed", self.name));
        }
        let missing: Vec<&str> = self.missing(record).iter().map(|t| t.id.as_str()).collect();
        if !missing.is_empty() {
            found.push(format!(
                "rule {} lost its target(s) {}",
                self.name,
                missing.join(", ")
            ));
        }
        found
    }

    /// The recorded targets the live rule lacks, or has otherwise.
    fn missing<'a>(&self, record: &'a Self) -> Vec<&'a TargetRecord> {
        record
            .targets
            .iter()
            .filter(|t| !self.targets.contains(t))
            .collect()
    }
}

/// Puts the rule back as recorded: what it matches, enabled, and its targets. Without a
/// record, only enabled. `live` is `None` for a deleted rule, created again from the record
/// (its ARN is its name's, so the functions' permissions for it still hold).
pub async fn restore(
    events: &Client,
    name: &str,
    live: Option<&RuleRecord>,
    record: Option<&RuleRecord>,
) -> Vec<Step> {
    let mut steps = Vec::new();
    steps.extend(restore_matching(events, name, live, record).await);
    steps.extend(restore_targets(events, name, live, record).await);
    steps
}

/// What the rule matches put back as recorded, and enabled, when it was changed (or the
/// rule deleted); otherwise a disabled rule enabled.
async fn restore_matching(
    events: &Client,
    name: &str,
    live: Option<&RuleRecord>,
    record: Option<&RuleRecord>,
) -> Option<Step> {
    let matches_changed = match (live, record) {
        (None, Some(_)) => true,
        (Some(l), Some(r)) => (&l.event_pattern, &l.schedule) != (&r.event_pattern, &r.schedule),
        _ => false,
    };
    if let (true, Some(r)) = (matches_changed, record) {
        let put = events
            .put_rule()
            .name(name)
            .set_event_pattern(r.event_pattern.clone())
            .set_schedule_expression(r.schedule.clone())
            .set_description(r.description.clone())
            .state(RuleState::Enabled)
            .send()
            .await;
        return Some(match put {
            Ok(_) => Step::ok("put-rule", format!("{name} matches as recorded, enabled")),
            Err(e) => Step::critical("put-rule", sdk_message(&e)),
        });
    }
    if live.is_some_and(|l| l.state != RuleState::Enabled.as_str()) {
        return Some(match events.enable_rule().name(name).send().await {
            Ok(_) => Step::ok("enable-rule", format!("{name} enabled")),
            Err(e) => Step::critical("enable-rule", sdk_message(&e)),
        });
    }
    None
}

/// The recorded targets the rule lacks put back (all of them for a deleted rule); nothing
/// without a record.
async fn restore_targets(
    events: &Client,
    name: &str,
    live: Option<&RuleRecord>,
    record: Option<&RuleRecord>,
) -> Option<Step> {
    let missing: Vec<&TargetRecord> = match (live, record) {
        (Some(l), Some(r)) => l.missing(r),
        (None, Some(r)) => r.targets.iter().collect(),
        _ => Vec::new(),
    };
    if missing.is_empty() {
        return None;
    }
    let targets: Result<Vec<Target>, String> = missing.iter().map(|t| t.to_sdk()).collect();
    let put = match targets {
        Ok(targets) => events
            .put_targets()
            .rule(name)
            .set_targets(Some(targets))
            .send()
            .await
            .map_err(|e| sdk_message(&e))
            .and_then(|out| match out.failed_entry_count() {
                0 => Ok(()),
                n => Err(format!("{n} target(s) refused")),
            }),
        Err(e) => Err(e),
    };
    let ids: Vec<&str> = missing.iter().map(|t| t.id.as_str()).collect();
    Some(match put {
        Ok(()) => Step::ok("put-targets", format!("{name}: {} back", ids.join(", "))),
        Err(e) => Step::critical("put-targets", e),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(state: &str, targets: &[&str]) -> RuleRecord {
        RuleRecord {
            name: "r".into(),
            state: state.into(),
            event_pattern: Some("{}".into()),
            schedule: None,
            description: None,
            targets: targets
                .iter()
                .map(|arn| TargetRecord {
                    id: format!("id-{arn}"),
                    arn: (*arn).into(),
                    input: None,
                    retry_attempts: Some(4),
                    max_age_secs: None,
                    dead_letter_arn: None,
                })
                .collect(),
        }
    }

    #[test]
    fn a_rule_loses_its_state_its_pattern_or_its_targets() {
        let record = rule("ENABLED", &["f1"]);
        assert!(record.losses(Some(&record)).is_empty());
        assert_eq!(rule("DISABLED", &["f1"]).losses(Some(&record)).len(), 1);
        assert_eq!(
            rule("ENABLED", &[]).losses(Some(&record)),
            ["rule r lost its target(s) id-f1"]
        );
        let mut blind = rule("ENABLED", &["f1"]);
        blind.event_pattern = Some(r#"{"source":["never"]}"#.into());
        assert_eq!(blind.losses(Some(&record)).len(), 1);
        assert_eq!(rule("DISABLED", &[]).losses(None).len(), 1);
        assert!(record.delivers_to(&["f1".into()]));
    }
}
