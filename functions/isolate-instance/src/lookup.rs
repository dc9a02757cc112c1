//! Where a case's instance is, what history calls it, and its live state with Tourniquet's
//! groups: read in one round, in the account and region it is in.

use std::collections::BTreeMap;

use tourniquet::members::Scope;
use tourniquet::{Case, VerifyError};

use crate::Isolator;
use crate::groups::{self, Known};
use crate::instance::{self, Instance};
use crate::target::Seen;

impl Isolator {
    /// What history calls the instance `id` of `scope`: elsewhere than the function's own
    /// account and region its ARN, which names them; at home its id, as always (so that
    /// turning an organization on keeps the history of the home account).
    pub(crate) fn key(&self, scope: &Scope, id: &str) -> String {
        if scope != self.members.home() {
            format!(
                "arn:{}:ec2:{}:{}:instance/{id}",
                self.partition, scope.region, scope.account
            )
        } else {
            id.to_owned()
        }
    }

    /// History's records of the quarantine groups of `scope`.
    pub(crate) fn records(&self, scope: &Scope) -> groups::Records {
        let prefix = (scope != self.members.home()).then(|| {
            format!(
                "arn:{}:ec2:{}:{}:vpc/",
                self.partition, scope.region, scope.account
            )
        });
        groups::Records::new(self.history.clone(), prefix)
    }

    /// Where the instance recorded under `key` is, and its id.
    pub(crate) fn locate<'k>(&self, key: &'k str) -> (Scope, &'k str) {
        let id = key.rsplit('/').next().unwrap_or(key);
        (self.members.scope_of_key(key), id)
    }

    /// The live instances, the groups of Tourniquet's names and history's record of which are
    /// its own, in one round.
    pub(crate) async fn read(
        &self,
        scope: &Scope,
        ids: &[String],
    ) -> Result<(BTreeMap<String, Instance>, Known), String> {
        let clients = self.clients.get(scope).await.map_err(|e| e.to_string())?;
        let recorded = self.records(scope);
        let (live, groups, records) = tokio::join!(
            instance::read_all(&clients, &self.partition, ids),
            groups::live(&clients.ec2, &self.config.quarantine_group),
            recorded.all()
        );
        // Without the groups they are treated as absent and made anew, never guessed.
        let groups = groups.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "quarantine group lookup failed");
            Vec::new()
        });
        let records = records.map_err(|e| e.to_string())?;
        Ok((live?, Known::new(groups, records)))
    }

    /// One case's live instance: read ahead with its event's, or now.
    pub(crate) async fn live(
        &self,
        case: &Case<Seen>,
    ) -> Result<(Option<Instance>, Known), VerifyError> {
        if let Some(seen) = &case.target.0 {
            let (inst, known) = seen.as_ref();
            return Ok((Some(inst.clone()), known.clone()));
        }
        let (scope, id) = self.locate(&case.resource);
        let (mut found, known) = self
            .read(&scope, &[id.to_owned()])
            .await
            .map_err(VerifyError::read)?;
        Ok((found.remove(id), known))
    }
}
