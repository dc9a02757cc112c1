//! isolate-instance: contain an EC2 instance tagged `Tainted`.
//!
//! The critical path, event to quarantine on every interface, is four dependent rounds of
//! AWS calls: (1) read the instance, its Auto Scaling group, the quarantine groups, the
//! dedupe key and the safeguard's slots, all at once; (2) take the safeguard slot and record
//! the state before, at once; (3) every interface to the allow-all group while the instance
//! leaves its Auto Scaling group; (4) every interface to the quarantine group. Evidence,
//! load balancers and credentials run beside it.
//!
//! The stages, as [`Isolator`]'s [`Remediation`] impl calls them, one module each: `cases`
//! (the intake: which instances an event names, read ahead when many), `verify` (the live
//! check, and the resumption of an open incident; the taint's removal in `taint`), `contain`
//! (the act stage, and the sweep's upkeep of the groups). Beside them: `lookup` finds a
//! case's account and reads its instance, `subject` writes what a person is told.

pub mod clients;
pub mod config;
pub use tourniquet::credentials;
pub mod evidence;
pub mod finding;
pub mod fleet;
pub mod groups;
pub mod instance;
pub mod intake;
pub mod nacl;
pub mod network;
pub mod permissions;
pub mod target;

mod cases;
mod contain;
mod lookup;
mod subject;
mod taint;
mod verify;

use std::sync::Arc;

use serde_json::Value;
use tourniquet::members::{Members, PerScope};
use tourniquet::safeguard::Safeguard;
use tourniquet::{
    Case, Context, Framework, Intake, IntakeError, Remediation, Step, Trigger, Verdict, VerifyError,
};

pub use clients::Clients;
pub use config::IsolateConfig;
pub use target::{Seen, Target};

pub const FUNCTION: &str = "isolate-instance";
/// The tag that marks a quarantined instance.
pub const STATUS_TAG: &str = "tourniquet:status";

/// The isolate-instance remediation.
pub struct Isolator {
    /// Per account and region acted in; the function's own built at cold start.
    clients: PerScope<Clients>,
    members: Arc<Members>,
    config: IsolateConfig,
    safeguard: Safeguard,
    history: tourniquet::history::History,
    /// The partition of this function's own identity (`aws`, `aws-cn`, …), for ARNs.
    partition: String,
}

impl Isolator {
    pub fn new(fw: &Framework, config: IsolateConfig) -> Self {
        Self {
            clients: PerScope::new(fw.members.clone(), &fw.sdk, Clients::new),
            members: fw.members.clone(),
            safeguard: fw.safeguard(config.safeguard),
            history: fw.history.clone(),
            partition: fw.partition().to_owned(),
            config,
        }
    }
}

/// Each stage hands over to its module: the futures are the modules' own, not wrapped in
/// another, which would deepen the stack that debug test threads are near the end of.
impl Remediation for Isolator {
    type Target = Seen;
    type Subject = Target;

    fn action(&self) -> &'static str {
        "isolate"
    }

    fn done(&self) -> &'static str {
        "isolated"
    }

    /// A taint tag is a request to isolate, which anyone may make: the safeguard, not the
    /// tagger's identity, limits it.
    fn counters_actor(&self) -> bool {
        false
    }

    fn safeguard(&self) -> Option<&Safeguard> {
        Some(&self.safeguard)
    }

    /// Every trigger asks for containment but the taint's removal, which is only reported.
    fn threatening(&self, trigger: &Trigger) -> bool {
        !matches!(trigger, Trigger::ApiCall(_, call) if call.event_name == "DeleteTags")
            && !matches!(trigger, Trigger::Scheduled(_) | Trigger::Sweep)
    }

    fn intake(
        &self,
        trigger: &Trigger,
    ) -> impl Future<Output = Result<Intake<Seen>, IntakeError>> + Send {
        self.cases(trigger)
    }

    fn verify(
        &self,
        ctx: &Context<'_>,
        case: &Case<Seen>,
    ) -> impl Future<Output = Result<Verdict<Target>, VerifyError>> + Send {
        self.check(ctx, case)
    }

    /// Each VPC's groups, made before any incident needs them.
    fn upkeep(&self, _: &Context<'_>) -> impl Future<Output = Vec<Step>> + Send {
        self.prepare_groups()
    }

    /// Every interface in the VPC's quarantine group (Tourniquet's own, rule-less) and
    /// nothing else. The status tag is never believed: the instance may tag itself.
    fn settled(&self, target: &Target) -> Option<String> {
        target.quarantined()
    }

    /// The live instance, whatever its tags say now (an attacker may have removed the taint),
    /// with the undo built from the state recorded when the incident opened.
    fn resume(
        &self,
        ctx: &Context<'_>,
        case: &Case<Seen>,
        before: &Value,
    ) -> impl Future<Output = Result<Verdict<Target>, VerifyError>> + Send {
        self.resumed(ctx, case, before)
    }

    fn act(
        &self,
        ctx: &Context<'_>,
        case: &Case<Seen>,
        target: &Target,
    ) -> impl Future<Output = Vec<Step>> + Send {
        self.isolate(ctx, case, target)
    }
}
