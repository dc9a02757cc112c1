//! disable-offender: count offenses per principal, disable repeat offenders reversibly.
//!
//! Every offense is recorded and counted in a rolling window ("has this happened
//! before?"); a failed attempt counts too. Past `OFFENSE_LIMIT`, the principal is disabled
//! without deleting anything: an IAM user's access keys are set inactive and an inline
//! deny-all is attached (which also stops the console and sessions already issued); an
//! assumed-role session gets an inline deny on its role scoped to that session
//! (`aws:userid`), so other users of the role keep working. Root, AWS services and
//! protected principals are never disabled: a human is woken instead.
//!
//! Each stage has its module: `intake` finds the offense in a call; `verify` counts it
//! (`offense`) and plans, by kind of offender (`offender`), what disabling it takes
//! (`user`, `session`, `instance_session`, with `upstream` for whoever assumed a role); act
//! carries out that plan in the same modules.

mod clients;
pub mod config;
pub mod instance;
mod instance_session;
mod intake;
mod message;
mod offender;
mod offense;
pub mod permissions;
mod plan;
pub mod policy;
mod session;
pub mod upstream;
mod user;
mod verify;

use std::sync::Arc;

use tourniquet::history::HistoryError;
use tourniquet::members::{Members, PerScope, Refusal};
use tourniquet::safeguard::Safeguard;
use tourniquet::{
    Case, Context, Framework, Intake, IntakeError, Remediation, Step, Trigger, Verdict, VerifyError,
};

pub use clients::Clients;
pub use config::{DisableConfig, RoleDisableMode};
pub use offender::Offender;
pub use offense::Offense;
pub use plan::Disable;

pub const FUNCTION: &str = "disable-offender";

/// The disable-offender remediation.
pub struct Disabler {
    /// Per account acted in; the function's own built at cold start.
    clients: PerScope<Clients>,
    members: Arc<Members>,
    config: DisableConfig,
    safeguard: Safeguard,
    history: tourniquet::history::History,
    exemptions: tourniquet::exempt::Exemptions,
}

impl Disabler {
    pub fn new(fw: &Framework, config: DisableConfig) -> Self {
        Self {
            clients: PerScope::new(fw.members.clone(), &fw.sdk, Clients::new),
            members: fw.members.clone(),
            safeguard: fw.safeguard(config.safeguard),
            history: fw.history.clone(),
            exemptions: fw.exemptions.clone(),
            config,
        }
    }

    /// The clients of the account an offender's ARN names (IAM is global: the function's
    /// own region serves).
    async fn clients_for(&self, key: &str) -> Result<Clients, Refusal> {
        let scope = self.members.scope_of_key(key);
        self.clients.get(&scope).await
    }
}

impl Remediation for Disabler {
    type Target = Offense;
    type Subject = Disable;

    fn action(&self) -> &'static str {
        "disable"
    }

    fn done(&self) -> &'static str {
        "disabled"
    }

    /// Protected principals are checked after their offense is counted, in `verify`.
    fn counters_actor(&self) -> bool {
        false
    }

    fn safeguard(&self) -> Option<&Safeguard> {
        Some(&self.safeguard)
    }

    async fn intake(&self, trigger: &Trigger) -> Result<Intake<Offense>, IntakeError> {
        self.offense_in(trigger).await
    }

    async fn verify(
        &self,
        ctx: &Context<'_>,
        case: &Case<Offense>,
    ) -> Result<Verdict<Disable>, VerifyError> {
        self.judge(ctx, case).await
    }

    /// Every offense is counted, whatever becomes of its incident.
    async fn record(
        &self,
        ctx: &Context<'_>,
        case: &Case<Offense>,
        _: &Verdict<Disable>,
    ) -> Result<(), HistoryError> {
        offense::record(&self.history, self.config.offense_window, ctx, &case.target).await
    }

    /// What is still active now is disabled; the undo also names what the invocation that
    /// died had already deactivated, from the state it recorded.
    async fn resume(
        &self,
        ctx: &Context<'_>,
        case: &Case<Offense>,
        before: &serde_json::Value,
    ) -> Result<Verdict<Disable>, VerifyError> {
        self.judge_again(ctx, case, before).await
    }

    async fn act(&self, _: &Context<'_>, case: &Case<Offense>, disable: &Disable) -> Vec<Step> {
        let r = match self.clients_for(disable.offender.key()).await {
            Ok(r) => r,
            Err(e) => return vec![Step::critical("reach", format!("NOTHING disabled: {e}"))],
        };
        let r = &r;
        match &disable.offender {
            Offender::User { name, .. } => self.disable_user(r, name, &disable.active_keys).await,
            Offender::RoleSession {
                role_name, user_id, ..
            } => {
                self.disable_role_session(r, disable, role_name, user_id)
                    .await
            }
            Offender::InstanceSession {
                role_name, user_id, ..
            } => {
                self.answer_instance_session(r, disable, role_name, user_id, &case.target.event)
                    .await
            }
            Offender::IdentityCenter { role_arn, .. } => vec![Step::critical(
                "disable",
                format!("{role_arn} is an Identity Center role: not changed through IAM"),
            )],
            Offender::Untouchable { arn, why } => {
                vec![Step::critical(
                    "disable",
                    format!("{arn} cannot be disabled: {why}"),
                )]
            }
        }
    }
}
