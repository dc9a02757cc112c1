//! The act stage: containment on the critical path (out of the Auto Scaling group and onto
//! allow-all at once, then quarantine on every interface), and beside it the network ACLs,
//! the evidence, the load balancers and the role's credentials. Also the sweep's upkeep,
//! which makes each VPC's groups before any incident needs them.

use futures_util::future::join_all;
use tourniquet::members::Scope;
use tourniquet::time::rfc3339;
use tourniquet::{Case, Context, Step, credentials};

use crate::Isolator;
use crate::clients::Clients;
use crate::groups::{self, Known};
use crate::instance::Instance;
use crate::target::{Seen, Target};
use crate::{evidence, fleet, nacl, network};

impl Isolator {
    /// Every step of the isolation, in the account and region of the case, run together: a
    /// failing one does not stop the others.
    pub(crate) async fn isolate(
        &self,
        ctx: &Context<'_>,
        case: &Case<Seen>,
        target: &Target,
    ) -> Vec<Step> {
        let inst = &target.instance;
        let (scope, _) = self.locate(&case.resource);
        let clients = match self.clients.get(&scope).await {
            Ok(c) => c,
            Err(e) => {
                return vec![Step::critical(
                    "reach",
                    format!("cannot act in {}, NOTHING done: {e}", scope.describe()),
                )];
            }
        };
        let clients = &clients;
        let ec2 = &clients.ec2;
        let (contained, edge, evidence, target_groups, classic, credentials) = tokio::join!(
            self.containment(ctx, &scope, clients, target),
            nacl::deny(ec2, &self.history, inst),
            evidence::preserve(ec2, inst, ctx.incident),
            fleet::leave_target_groups(clients, inst),
            fleet::leave_classic_load_balancers(clients, inst),
            self.cut_credentials(clients, inst),
        );
        let mut steps = contained;
        steps.extend(edge);
        steps.extend(target_groups);
        steps.extend(classic);
        steps.extend(evidence);
        steps.extend(credentials);
        steps
    }

    /// The cut, then the status tag and the shortened connection tracking, which never delay
    /// it.
    async fn containment(
        &self,
        ctx: &Context<'_>,
        scope: &Scope,
        clients: &Clients,
        target: &Target,
    ) -> Vec<Step> {
        let inst = &target.instance;
        let ec2 = &clients.ec2;
        let records = self.records(scope);
        let mut steps = self
            .contain(clients, &records, inst, &target.groups, ctx.incident)
            .await;
        let quarantined = !inst.interfaces.is_empty()
            && inst.interfaces.iter().all(|eni| {
                let name = format!("quarantine {}", eni.id);
                steps.iter().any(|s| s.ok && s.name == name)
            });
        // After the cut, so that it never delays it.
        let at = rfc3339(ctx.now);
        let (mark, tracking) = tokio::join!(
            evidence::mark(ec2, inst, ctx.incident, quarantined, &at),
            join_all(
                inst.interfaces
                    .iter()
                    .map(|eni| network::shorten_tracking(ec2, eni))
            ),
        );
        steps.push(mark);
        steps.extend(tracking);
        steps
    }

    /// Denies all to the instance's sessions of its role, if it has one.
    async fn cut_credentials(&self, clients: &Clients, inst: &Instance) -> Vec<Step> {
        match &inst.instance_profile_arn {
            Some(profile) => {
                credentials::cut(&clients.iam, &self.history, profile, &inst.arn).await
            }
            None => vec![Step::ok(
                "role-deny",
                "no instance profile: no role credentials",
            )],
        }
    }

    /// Containment: out of the Auto Scaling group and onto allow-all at once, then
    /// quarantine, on every interface concurrently.
    async fn contain(
        &self,
        clients: &Clients,
        records: &groups::Records,
        inst: &Instance,
        known: &Known,
        incident: &str,
    ) -> Vec<Step> {
        let ec2 = &clients.ec2;
        let Some(vpc) = inst.vpc_id.as_deref() else {
            return vec![Step::critical(
                "quarantine",
                "the instance is in no VPC: network NOT cut",
            )];
        };
        let opening = async {
            let names = (
                self.config.quarantine_group.as_str(),
                self.config.allow_all_group(),
            );
            let (groups, mut steps) =
                groups::ensure(ec2, records, known, (vpc, incident), (names.0, &names.1)).await;
            if let Ok(g) = &groups {
                steps.extend(
                    join_all(inst.interfaces.iter().map(|eni| network::open(ec2, eni, g))).await,
                );
            }
            (groups, steps)
        };
        let (detached, (groups, mut steps)) = tokio::join!(fleet::detach(clients, inst), opening);
        steps.extend(detached);
        match groups {
            Ok(g) => {
                let closed = join_all(
                    inst.interfaces
                        .iter()
                        .map(|eni| network::close(ec2, eni, &g)),
                )
                .await;
                steps.extend(closed);
            }
            Err(e) => steps.push(Step::critical(
                "quarantine",
                format!("no quarantine group in {vpc}, network NOT cut: {e}"),
            )),
        }
        steps
    }

    /// Each VPC's groups, made before any incident needs them.
    pub(crate) async fn prepare_groups(&self) -> Vec<Step> {
        let names = (
            self.config.quarantine_group.as_str(),
            self.config.allow_all_group(),
        );
        let ec2 = self.clients.home().ec2;
        let records = self.records(self.members.home());
        groups::prepare(&ec2, &records, (names.0, &names.1)).await
    }
}
