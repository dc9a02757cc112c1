//! What the disabler does with the principal behind a role session: reads it live (a user
//! of the account, not protected), and disables it with the session.

use tourniquet::exempt::PrincipalExemption;
use tourniquet::{Principal, Step};

use super::{Assumer, Upstream, assumer};
use crate::Disabler;
use crate::clients::Clients;

impl Disabler {
    /// The principal that assumed the role of this session, from CloudTrail's record.
    pub(crate) async fn upstream(&self, r: &Clients, principal: &Principal) -> Upstream {
        let Principal::AssumedRole {
            access_key_id: Some(key),
            session_created: Some(created),
            account,
            ..
        } = principal
        else {
            return Upstream::Unknown(
                "the event names no session access key or creation time".to_owned(),
            );
        };
        let (arn, name) = match assumer(&r.cloudtrail, key, created, account).await {
            Assumer::User { arn, name } => (arn, name),
            Assumer::Service(service) => return Upstream::Service(service),
            Assumer::Unknown(why) => return Upstream::Unknown(why),
        };
        let user = Principal::IamUser {
            arn: arn.clone(),
            user_name: name.clone(),
            account: account.clone(),
            access_key_id: None,
        };
        if let Some(PrincipalExemption::Protected(pattern)) = self.exemptions.check(&user) {
            return Upstream::Unknown(format!(
                "assumed by {arn}, a protected principal ({pattern}): not disabled"
            ));
        }
        match self.live_user(r, &name).await {
            Ok(Some(live)) => Upstream::User {
                arn,
                name,
                active_keys: live.active_keys,
            },
            Ok(None) => Upstream::Unknown(format!("assumed by {arn}, which no longer exists")),
            Err(e) => {
                Upstream::Unknown(format!("assumed by {arn}, whose keys cannot be read: {e}"))
            }
        }
    }

    /// The principal behind a role session: disabled when it is a user of the account;
    /// otherwise a person is woken with what is known.
    pub(crate) async fn disable_upstream(
        &self,
        r: &Clients,
        role: &str,
        upstream: Option<&Upstream>,
    ) -> Vec<Step> {
        match upstream {
            None => Vec::new(),
            Some(Upstream::User {
                arn,
                name,
                active_keys,
            }) => {
                let mut steps = vec![Step::ok(
                    "upstream",
                    format!(
                        "{arn} assumed role {role} (CloudTrail's AssumeRole record): disabled \
                         with it"
                    ),
                )];
                steps.extend(self.disable_user(r, name, active_keys).await);
                steps
            }
            Some(Upstream::Service(service)) => vec![Step::ok(
                "upstream",
                format!(
                    "role {role} was assumed by {service} for its workload: nothing upstream \
                     to disable; find what runs there"
                ),
            )],
            Some(Upstream::Unknown(why)) => vec![Step::critical(
                "upstream",
                format!(
                    "whoever assumed role {role} was NOT disabled and can take a new session: \
                     {why}"
                ),
            )],
        }
    }
}
