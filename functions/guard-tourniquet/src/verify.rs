//! The live check of each kind of Tourniquet's resources against what the stack deployed:
//! the findings, and whether they can be put back or a person must act.

use serde::de::DeserializeOwned;
use serde_json::json;
use tourniquet::errors::AwsError;
use tourniquet::own::{Own, function_name};
use tourniquet::{Context, Trigger, Verdict, VerifyError};
use tourniquet_trail::key;

use crate::Guard;
use crate::disarmed::{Disarmed, Repair, enabled};
use crate::lambdas::{self, FunctionRecord};
use crate::member;
use crate::rules::{self, RuleRecord};
use crate::verdicts::who;

impl Guard {
    /// A call on the member stack pages; it is the stack set's to put back.
    pub(crate) fn verify_member(
        &self,
        ctx: &Context<'_>,
        own: &Own,
        what: &str,
    ) -> Verdict<Disarmed> {
        match ctx.trigger {
            Trigger::ApiCall(e, call) => member::disarmed(call, &who(ctx), what, &e.account),
            _ => self.page(ctx, own, &[]),
        }
    }

    /// One of Tourniquet's resources in its own account, checked live.
    pub(crate) async fn verify_own(
        &self,
        ctx: &Context<'_>,
        own: &Own,
    ) -> Result<Verdict<Disarmed>, VerifyError> {
        match own {
            Own::Rule(name) => self.verify_rule(ctx, own, name).await,
            Own::Function(name) => self.verify_function(ctx, own, function_name(name)).await,
            Own::Key(id) => self.verify_key(ctx, own, id).await,
            Own::Table(_) | Own::Topic(_) => self.verify_store(ctx, own).await,
            Own::Role(_) | Own::Member(_) => {
                let findings: Vec<String> = Self::call_finding(ctx, own).into_iter().collect();
                Ok(self.page(ctx, own, &findings))
            }
        }
    }

    /// What history recorded of a resource, if it reads as one.
    async fn recorded<T: DeserializeOwned>(&self, kind: &str, name: &str) -> Option<T> {
        let stored = self.history.baseline(kind, name).await.ok().flatten()?;
        serde_json::from_value(stored).ok()
    }

    async fn verify_rule(
        &self,
        ctx: &Context<'_>,
        own: &Own,
        name: &str,
    ) -> Result<Verdict<Disarmed>, VerifyError> {
        let (live, record) = tokio::join!(
            rules::read(&self.events, name),
            self.recorded::<RuleRecord>(rules::BASELINE, name)
        );
        let live = live.map_err(VerifyError::read)?;
        let ours = record.is_some()
            || live
                .as_ref()
                .is_some_and(|l| l.delivers_to(&self.config.own.functions));
        if !ours {
            return Ok(Verdict::NothingToDo(format!(
                "rule {name} is not Tourniquet's"
            )));
        }
        let findings = match &live {
            None => vec![format!("rule {name} deleted")],
            Some(l) => l.losses(record.as_ref()),
        };
        if findings.is_empty() {
            return Ok(self.sound(ctx, own, live.as_ref()));
        }
        let mut findings = findings;
        findings.extend(Self::call_finding(ctx, own));
        let repairable = record.is_some()
            || live.as_ref().is_some_and(|l| {
                l.state != aws_sdk_eventbridge::types::RuleState::Enabled.as_str()
            });
        if !repairable {
            return Ok(self.page(ctx, own, &findings));
        }
        let before = json!({"rule": live});
        let repair = Repair::Rule {
            name: name.to_owned(),
            live,
            record,
        };
        Ok(self.repair(own, before, repair, findings))
    }

    async fn verify_function(
        &self,
        ctx: &Context<'_>,
        own: &Own,
        name: &str,
    ) -> Result<Verdict<Disarmed>, VerifyError> {
        let (live, record) = tokio::join!(
            lambdas::read(&self.lambda, name),
            self.recorded::<FunctionRecord>(lambdas::BASELINE, name)
        );
        let Some(live) = live.map_err(VerifyError::read)? else {
            let mut findings = vec![format!("function {name} deleted")];
            findings.extend(Self::call_finding(ctx, own));
            return Ok(self.page(ctx, own, &findings));
        };
        let mut findings = live.losses(&self.config.settings);
        // Who may invoke the function is its resource policy, which no live setting shows:
        // a change to it outside the stack pages whatever the function looks like now.
        if let Some(change) = permission_change(ctx) {
            findings.push(change);
        }
        if findings.is_empty() {
            return Ok(self.sound(ctx, own, Some(&live)));
        }
        findings.extend(Self::call_finding(ctx, own));
        if !live.turned_off() {
            return Ok(self.page(ctx, own, &findings));
        }
        let before = json!({"function": live});
        let repair = Repair::Concurrency {
            name: name.to_owned(),
            record,
        };
        Ok(self.repair(own, before, repair, findings))
    }

    async fn verify_key(
        &self,
        ctx: &Context<'_>,
        own: &Own,
        id: &str,
    ) -> Result<Verdict<Disarmed>, VerifyError> {
        let kms = key::client_for(&self.sdk, &self.kms, id);
        let live = key::read(&kms, id).await;
        let enabled = enabled(&live);
        let findings = live.narrower_than(&enabled);
        if findings.is_empty() {
            return Ok(self.sound::<()>(ctx, own, None));
        }
        let mut findings = findings;
        findings.extend(Self::call_finding(ctx, own));
        if live.unreadable.is_some() {
            return Ok(self.page(ctx, own, &findings));
        }
        let before = json!({"key": live});
        Ok(self.repair(own, before, Repair::Key { live }, findings))
    }

    /// The table and the topic: deleted or changed, a person must act.
    async fn verify_store(
        &self,
        ctx: &Context<'_>,
        own: &Own,
    ) -> Result<Verdict<Disarmed>, VerifyError> {
        let gone = match own {
            Own::Table(t) => match self.dynamodb.describe_table().table_name(t).send().await {
                Ok(_) => None,
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_resource_not_found_exception()) =>
                {
                    Some(format!("history table {t} deleted"))
                }
                Err(e) => return Err(VerifyError::from(AwsError::of("DescribeTable", &e))),
            },
            Own::Topic(t) => match self.sns.get_topic_attributes().topic_arn(t).send().await {
                Ok(_) => None,
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_not_found_exception()) =>
                {
                    Some(format!("alert topic {t} deleted: notifications go nowhere"))
                }
                Err(e) => {
                    return Err(AwsError::of("GetTopicAttributes", &e).into());
                }
            },
            _ => None,
        };
        let mut findings: Vec<String> = gone.into_iter().collect();
        findings.extend(Self::call_finding(ctx, own));
        if findings.is_empty() {
            return Ok(self.sound::<()>(ctx, own, None));
        }
        Ok(self.page(ctx, own, &findings))
    }
}

/// A change of a function's resource policy (`AddPermission20150331v2`, `RemovePermission…`),
/// in words, with the principal it names.
fn permission_change(ctx: &Context<'_>) -> Option<String> {
    let Trigger::ApiCall(_, call) = ctx.trigger else {
        return None;
    };
    let name = call.event_name.as_str();
    let request = &call.request_parameters;
    let field = |k: &str| request.get(k).and_then(|v| v.as_str());
    if name.starts_with("AddPermission") {
        let who = field("principal").unwrap_or("someone");
        let what = field("action").unwrap_or("an action");
        return Some(format!(
            "its resource policy now lets {who} call {what} (statement {})",
            field("statementId").unwrap_or("?")
        ));
    }
    name.starts_with("RemovePermission").then(|| {
        format!(
            "statement {} removed from its resource policy",
            field("statementId").unwrap_or("?")
        )
    })
}
