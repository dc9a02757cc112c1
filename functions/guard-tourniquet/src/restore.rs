//! The act stage: what can be put back of a disarmed resource is, and the page goes out
//! either way.

use tourniquet::{Context, Step};
use tourniquet_trail::key;

use crate::Guard;
use crate::disarmed::{Disarmed, Repair, enabled};
use crate::verdicts::who;
use crate::{lambdas, rules};

impl Guard {
    /// The repair carried out, then the alarm: someone turned Tourniquet off.
    pub(crate) async fn restore(&self, ctx: &Context<'_>, d: &Disarmed) -> Vec<Step> {
        let mut steps = match &d.repair {
            Repair::Rule { name, live, record } => {
                rules::restore(&self.events, name, live.as_ref(), record.as_ref()).await
            }
            Repair::Concurrency { name, record } => {
                vec![lambdas::restore_concurrency(&self.lambda, name, record.as_ref()).await]
            }
            Repair::Key { live } => {
                let kms = key::client_for(&self.sdk, &self.kms, &live.id);
                key::heal(&kms, live, &enabled(live)).await
            }
        };
        // Put back or not, someone turned Tourniquet off: that pages.
        steps.push(Step::alarm(
            "disarmed",
            format!("{}: {}", who(ctx), d.findings.join("; ")),
        ));
        steps
    }
}
