//! guard-tourniquet: Tourniquet defends itself.
//!
//! An attacker who knows Tourniquet is deployed turns it off first: a rule disabled or
//! emptied, a function's concurrency set to 0 or `DRY_RUN=true`, a key disabled, the table
//! or the topic deleted, a role's policy changed. Every such call on Tourniquet's own
//! resources (`tourniquet::own`) pages CRITICAL naming who made it, and what can be put back
//! safely is: the rule enabled with its targets and pattern, the concurrency, the key. An
//! hourly audit finds what no event told, and records the rules and functions as deployed.
//! A CloudFormation deploy of this stack is the change process: its calls refresh the
//! records instead. A call through another stack is tampering like any other.
//!
//! The stages, each in its module: what a call touches (`watched`) or the hourly audit
//! lists (`audit`); whether a call is this stack's deploy (`deploy`); the live check
//! (`verify`) and the verdict it gives (`verdicts`); what is put back (`restore`).

pub mod lambdas;
pub mod member;
pub mod permissions;
pub mod rules;

mod audit;
mod config;
mod deploy;
mod disarmed;
mod restore;
mod verdicts;
mod verify;
mod watched;

use aws_config::SdkConfig;
use tourniquet::history::History;
use tourniquet::history::HistoryError;
use tourniquet::own::Own;
use tourniquet::safeguard::Safeguard;
use tourniquet::{
    Case, Context, Framework, Intake, IntakeError, Remediation, Step, Trigger, Verdict, VerifyError,
};

pub use config::GuardConfig;
pub use disarmed::{Disarmed, Repair};

pub const FUNCTION: &str = "guard-tourniquet";

/// The guard-tourniquet remediation.
pub struct Guard {
    events: aws_sdk_eventbridge::Client,
    lambda: aws_sdk_lambda::Client,
    kms: aws_sdk_kms::Client,
    dynamodb: aws_sdk_dynamodb::Client,
    sns: aws_sdk_sns::Client,
    cloudformation: aws_sdk_cloudformation::Client,
    sdk: SdkConfig,
    history: History,
    config: GuardConfig,
    /// Tourniquet's own account, and the member role that acts elsewhere.
    home: String,
    member_role: Option<String>,
    partition: String,
}

impl Guard {
    pub fn new(fw: &Framework, config: GuardConfig) -> Self {
        Self {
            events: aws_sdk_eventbridge::Client::new(&fw.sdk),
            lambda: aws_sdk_lambda::Client::new(&fw.sdk),
            kms: aws_sdk_kms::Client::new(&fw.sdk),
            dynamodb: aws_sdk_dynamodb::Client::new(&fw.sdk),
            sns: aws_sdk_sns::Client::new(&fw.sdk),
            cloudformation: aws_sdk_cloudformation::Client::new(&fw.sdk),
            sdk: fw.sdk.clone(),
            history: fw.history.clone(),
            home: fw.members.home().account.clone(),
            member_role: fw.config.members.role_name.clone(),
            partition: fw.partition().to_owned(),
            config,
        }
    }
}

impl Remediation for Guard {
    type Target = Own;
    type Subject = Disarmed;

    fn action(&self) -> &'static str {
        "restore"
    }

    fn done(&self) -> &'static str {
        "restored"
    }

    /// A protected principal may change the stack on purpose: a human is told instead.
    fn counters_actor(&self) -> bool {
        true
    }

    fn safeguard(&self) -> Option<&Safeguard> {
        None
    }

    /// Tourniquet's own resources are in its own account; in a member account the guard
    /// only reads the call and pages.
    fn acts_in_members(&self) -> bool {
        false
    }

    async fn intake(&self, trigger: &Trigger) -> Result<Intake<Own>, IntakeError> {
        match trigger {
            Trigger::Scheduled(_) => self.audit().await,
            Trigger::ApiCall(e, call) => Ok(self.touched(&e.account, call)),
            _ => Ok(Intake::Ignore(
                "guard-tourniquet acts on API calls and its audit".into(),
            )),
        }
    }

    /// The member stack pages; a deploy of this stack is recorded; anything else is
    /// checked live.
    async fn verify(
        &self,
        ctx: &Context<'_>,
        case: &Case<Own>,
    ) -> Result<Verdict<Disarmed>, VerifyError> {
        let own = &case.target;
        if let Own::Member(what) = own {
            return Ok(self.verify_member(ctx, own, what));
        }
        if self.by_this_deploy(ctx).await {
            return self.after_deploy(own).await;
        }
        self.verify_own(ctx, own).await
    }

    /// The audit records the rules and functions as deployed.
    async fn record(
        &self,
        ctx: &Context<'_>,
        case: &Case<Own>,
        verdict: &Verdict<Disarmed>,
    ) -> Result<(), HistoryError> {
        self.record_as_deployed(ctx, case, verdict).await
    }

    /// Enabling a key is idempotent and only ever restores: done even when history, whose
    /// table the key encrypts, cannot be reached (a human is woken either way).
    fn safe_without_history(&self, d: &Disarmed) -> bool {
        matches!(d.repair, Repair::Key { .. })
    }

    async fn act(&self, ctx: &Context<'_>, _: &Case<Own>, d: &Disarmed) -> Vec<Step> {
        self.restore(ctx, d).await
    }
}
