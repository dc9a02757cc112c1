//! heal-cloudtrail: put every stopped, weakened or deleted trail back.
//!
//! The event only says which trail to look at: the decision is made on the live trail,
//! compared with its last known good configuration (its baseline, kept in history and
//! refreshed whenever the trail is seen healthy). Calls go to the trail's home region, since
//! a multi-region trail's shadow copies cannot be changed.
//!
//! The stages, each in its own module: `intake` finds the trails and stores an event names,
//! `audit` every one of them, daily; `verify` reads a trail (`trail`) or a store (`store`)
//! and judges it against its baseline without I/O; `trail` (with `bucket`) and `store` put
//! back what differs. `clients` holds each account's clients; `watched` what is watched and
//! what healing it takes.

mod audit;
pub mod bucket;
mod clients;
mod intake;
pub mod permissions;
pub mod store;
mod trail;
mod verify;
mod watched;

use tourniquet::history::History;
use tourniquet::history::HistoryError;
use tourniquet::safeguard::Safeguard;
use tourniquet::{
    Case, Context, Framework, Intake, IntakeError, Remediation, Step, Trigger, Verdict, VerifyError,
};
use tourniquet_trail::touched;

pub use clients::Clients;
pub use intake::TAMPERING;
use tourniquet::members::PerScope;
pub use trail::BASELINE;
pub use watched::{Heal, Watched};

pub const FUNCTION: &str = "heal-cloudtrail";

/// The heal-cloudtrail remediation.
pub struct Healer {
    /// Per account and region acted in; the function's own built at cold start.
    clients: PerScope<Clients>,
    region: String,
    partition: String,
    history: History,
}

impl Healer {
    pub fn new(fw: &Framework) -> Self {
        Self {
            clients: PerScope::new(fw.members.clone(), &fw.sdk, Clients::new),
            region: fw.sdk.region().map(|r| r.to_string()).unwrap_or_default(),
            partition: fw.partition().to_owned(),
            history: fw.history.clone(),
        }
    }
}

impl Remediation for Healer {
    type Target = Watched;
    type Subject = Heal;

    fn action(&self) -> &'static str {
        "heal"
    }

    fn done(&self) -> &'static str {
        "healed"
    }

    /// A protected principal may change a trail on purpose: a human is told instead.
    fn counters_actor(&self) -> bool {
        true
    }

    fn safeguard(&self) -> Option<&Safeguard> {
        None
    }

    async fn intake(&self, trigger: &Trigger) -> Result<Intake<Watched>, IntakeError> {
        match trigger {
            Trigger::Scheduled(_) => audit::audit(&self.clients, &self.history, &self.region).await,
            Trigger::ApiCall(_, call) if touched::is_delivery_call(call) => {
                let scope = self.clients.members().scope_of(trigger);
                intake::trails_of_delivery_call(&self.clients, call, &scope).await
            }
            other => Ok(intake::trail_of_call(&self.partition, other)?),
        }
    }

    async fn verify(
        &self,
        ctx: &Context<'_>,
        case: &Case<Watched>,
    ) -> Result<Verdict<Heal>, VerifyError> {
        match &case.target {
            Watched::Trail(trail) => {
                verify::of_trail(ctx, &self.clients, &self.history, &self.partition, trail).await
            }
            Watched::Store(store) => {
                verify::of_store(ctx, &self.clients, &self.history, store).await
            }
        }
    }

    /// Restarting a stopped trail or store is idempotent and only ever restores.
    fn safe_without_history(&self, heal: &Heal) -> bool {
        matches!(heal, Heal::StartLogging { .. } | Heal::Ingestion { .. })
    }

    /// A healthy trail's configuration becomes its baseline; an ingesting store is recorded.
    async fn record(
        &self,
        ctx: &Context<'_>,
        case: &Case<Watched>,
        verdict: &Verdict<Heal>,
    ) -> Result<(), HistoryError> {
        let Verdict::Healthy { known_good, .. } = verdict else {
            return Ok(());
        };
        let (kind, name) = match &case.target {
            Watched::Trail(t) => (BASELINE, &t.arn),
            Watched::Store(s) => (store::BASELINE, &s.store_arn),
        };
        self.history
            .put_baseline(kind, name, known_good, ctx.now)
            .await
    }

    async fn act(&self, _: &Context<'_>, case: &Case<Watched>, heal: &Heal) -> Vec<Step> {
        match (&case.target, heal) {
            (_, Heal::Ingestion { store, live }) => {
                match self.clients.for_key(&store.store_arn).await {
                    Ok(account) => {
                        store::restart(&account.client_for(&store.region), store, live).await
                    }
                    Err(e) => vec![Step::critical("ingestion", e.to_string())],
                }
            }
            (Watched::Trail(trail), heal) => trail::heal(&self.clients, trail, heal).await,
            (Watched::Store(_), _) => Vec::new(),
        }
    }
}
