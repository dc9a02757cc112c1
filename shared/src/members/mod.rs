//! Many accounts and regions from one deployment: where a resource lives (its [`Scope`]),
//! whether Tourniquet may act there, and the SDK configuration that reaches it.
//!
//! With `MEMBER_ROLE_NAME` empty, Tourniquet acts in its own account only, as it always did.
//! Set, an event of another account is handled there, in the event's region, through the
//! member role, assumed once per account and remembered for the life of the process.

mod per_scope;
mod scope;
mod sessions;

pub use per_scope::PerScope;
pub use scope::{Refusal, Scope};
use sessions::Remembered;

use std::collections::HashMap;
use std::sync::Mutex;

use aws_config::sts::AssumeRoleProvider;
use aws_config::{Region, SdkConfig};
use aws_credential_types::provider::{
    ProvideCredentials, SharedCredentialsProvider, error::CredentialsError,
};

use crate::arn::is_account;
use crate::config::MemberConfig;

/// How Tourniquet names its sessions of a member role (`tourniquet-isolate-instance`).
const SESSION_PREFIX: &str = "tourniquet-";
use crate::events::{Principal, Trigger};
use crate::exempt::IdentityKey;

/// The accounts and regions Tourniquet may act in, and how it reaches each.
#[derive(Debug)]
pub struct Members {
    home: Scope,
    partition: String,
    config: MemberConfig,
    base: SdkConfig,
    session: String,
    /// One assumed role per member account, for the life of the process.
    roles: Mutex<HashMap<String, SharedCredentialsProvider>>,
}

impl Members {
    /// `identity` is this function's own ARN: its account and partition are home.
    pub fn new(function: &str, config: MemberConfig, base: SdkConfig, identity: &str) -> Self {
        let region = base.region().map(|r| r.to_string()).unwrap_or_default();
        let mut parts = identity.split(':');
        let partition = parts.nth(1).filter(|p| !p.is_empty()).unwrap_or("aws");
        let account = parts.nth(2).unwrap_or_default();
        Self {
            home: Scope::new(account, region),
            partition: partition.to_owned(),
            config,
            base,
            session: format!("{SESSION_PREFIX}{function}"),
            roles: Mutex::new(HashMap::new()),
        }
    }

    /// This function's own account and region.
    pub fn home(&self) -> &Scope {
        &self.home
    }

    /// The accounts of `MEMBER_ACCOUNTS` (empty: any account, none listed).
    pub fn listed(&self) -> &[String] {
        &self.config.accounts
    }

    /// Whether a member role is configured: events of other accounts are handled there.
    pub fn organization(&self) -> bool {
        self.config.role_name.is_some()
    }

    /// The member role in `account`.
    pub fn role_arn(&self, account: &str) -> Option<String> {
        let name = self.config.role_name.as_deref()?;
        Some(format!("arn:{}:iam::{account}:role/{name}", self.partition))
    }

    /// Whether `principal` is Tourniquet acting through the member role in the event's own
    /// account (`event_account`), one it may act in: a session of the role of that name in
    /// that account, named as Tourniquet names its sessions. A role of the same name in any
    /// other account is someone else's, and so is a session of another name.
    pub fn own_session(&self, principal: &Principal, event_account: &str) -> bool {
        let (Principal::AssumedRole { arn, .. }, Some(member)) =
            (principal, self.config.role_name.as_deref())
        else {
            return false;
        };
        let IdentityKey::Role { account, name } = IdentityKey::of(principal) else {
            return false;
        };
        // `arn:aws:sts::<account>:assumed-role/<role>/<session>`
        let session = arn.rsplit('/').next().unwrap_or_default();
        account == event_account
            && name == member
            && session.starts_with(SESSION_PREFIX)
            && self
                .admits(&Scope::new(account, self.home.region.clone()))
                .is_ok()
    }

    /// Whether `scope` is reached through the member role: in an organization, anywhere but
    /// the function's own account and region (its own role's grants name its region; the
    /// member stack, deployed in this account too, covers the others).
    fn through_role(&self, scope: &Scope) -> bool {
        self.organization() && *scope != self.home
    }

    /// Where an event's resources are: its account and region. With one account, home: the
    /// event's region is not followed, as before.
    pub fn scope_of(&self, trigger: &Trigger) -> Scope {
        let (account, region) = match trigger {
            // A finding names where its resource is: a delegated administrator receives its
            // members' findings on its own bus.
            Trigger::Finding(e, f) => (
                f.account.as_deref().unwrap_or(&e.account),
                f.region.as_deref().unwrap_or(&e.region),
            ),
            other => match other.envelope() {
                Some(e) => (e.account.as_str(), e.region.as_str()),
                None => return self.home.clone(),
            },
        };
        if self.organization() {
            Scope::new(account, region)
        } else if account != self.home.account {
            Scope::new(account, &self.home.region)
        } else {
            self.home.clone()
        }
    }

    /// Where a resource recorded under `key` lives: an ARN names it, a bare id is home.
    pub fn scope_of_key(&self, key: &str) -> Scope {
        Scope::of_arn(key, &self.home.region).unwrap_or_else(|| self.home.clone())
    }

    /// Whether Tourniquet may act in `scope`, without reaching it.
    pub fn admits(&self, scope: &Scope) -> Result<(), Refusal> {
        if scope.account == self.home.account {
            return Ok(());
        }
        if !is_account(&scope.account) {
            return Err(Refusal::NotAnAccount(scope.account.clone()));
        }
        if !self.organization() {
            return Err(Refusal::OneAccount(scope.account.clone()));
        }
        if !self.config.lists(&scope.account) {
            return Err(Refusal::NotListed(scope.account.clone()));
        }
        Ok(())
    }

    /// Whether Tourniquet may act in `scope` and, in another account, can: the member role
    /// is assumed now if it has not been.
    pub async fn enter(&self, scope: &Scope) -> Result<(), Refusal> {
        self.admits(scope)?;
        if self.through_role(scope) {
            self.role(&scope.account).await?;
        }
        Ok(())
    }

    /// The SDK configuration that acts in `scope`: this function's own in its account, the
    /// member role's elsewhere (assumed now if it has not been, so that a role that cannot
    /// be assumed is known before anything is decided).
    pub async fn sdk_in(&self, scope: &Scope) -> Result<SdkConfig, Refusal> {
        self.admits(scope)?;
        let in_region = |sdk: SdkConfig| {
            if Some(scope.region.as_str()) == sdk.region().map(|r| r.as_ref()) {
                sdk
            } else {
                sdk.into_builder()
                    .region(Region::new(scope.region.clone()))
                    .build()
            }
        };
        if !self.through_role(scope) {
            return Ok(in_region(self.base.clone()));
        }
        let role = self.role(&scope.account).await?;
        Ok(in_region(
            self.base
                .clone()
                .into_builder()
                .credentials_provider(role)
                .build(),
        ))
    }

    /// The member role of `account`, its credentials fresh. No lock is held while STS is
    /// asked, but one account's renewal at a time.
    async fn role(&self, account: &str) -> Result<SharedCredentialsProvider, Refusal> {
        let arn = self
            .role_arn(account)
            .ok_or_else(|| Refusal::OneAccount(account.to_owned()))?;
        let known = self
            .roles
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(account)
            .cloned();
        let role = match known {
            Some(r) => r,
            None => {
                let mut builder = AssumeRoleProvider::builder(&arn)
                    .session_name(&self.session)
                    .configure(&self.base);
                if let Some(id) = &self.config.external_id {
                    builder = builder.external_id(id);
                }
                let made = SharedCredentialsProvider::new(Remembered::new(builder.build().await));
                self.roles
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .entry(account.to_owned())
                    .or_insert(made)
                    .clone()
            }
        };
        role.provide_credentials()
            .await
            .map_err(|e| refusal_of(&arn, &e))?;
        Ok(role)
    }
}

/// A failed `AssumeRole`: refused when STS says no (the role is missing, or does not trust
/// this function, or expects another external id, all `AccessDenied`), transient otherwise.
fn refusal_of(role: &str, e: &CredentialsError) -> Refusal {
    use aws_sdk_sts::error::{ProvideErrorMetadata, SdkError};
    use aws_sdk_sts::operation::assume_role::AssumeRoleError;
    use std::error::Error;
    let code = e
        .source()
        .and_then(|s| s.downcast_ref::<SdkError<AssumeRoleError>>())
        .and_then(|s| s.as_service_error())
        .and_then(|s| s.code().map(str::to_owned));
    let (role, error) = (role.to_owned(), crate::errors::error_chain(e));
    match code.as_deref() {
        Some("AccessDenied" | "RegionDisabledException" | "MalformedPolicyDocument") => {
            Refusal::CannotAssume { role, error }
        }
        _ => Refusal::Unreachable { role, error },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Env;
    use aws_config::BehaviorVersion;

    fn members(pairs: &[(&'static str, &'static str)]) -> Members {
        let config = MemberConfig::from_env(&Env::from_pairs(pairs.iter().copied())).unwrap();
        let sdk = SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("eu-west-1"))
            .build();
        Members::new(
            "isolate-instance",
            config,
            sdk,
            "arn:aws:iam::111111111111:role/tq-isolate",
        )
    }

    #[test]
    fn an_arn_names_its_scope_and_a_global_one_takes_the_region_given() {
        assert_eq!(
            Scope::of_arn("arn:aws:ec2:us-west-2:222222222222:instance/i-1", "x"),
            Some(Scope::new("222222222222", "us-west-2"))
        );
        assert_eq!(
            Scope::of_arn("arn:aws:iam::222222222222:user/mallory", "eu-west-1"),
            Some(Scope::new("222222222222", "eu-west-1"))
        );
        assert_eq!(Scope::of_arn("i-0abc", "eu-west-1"), None);
        assert_eq!(Scope::of_arn("arn:aws:s3:::bucket", "eu-west-1"), None);
    }

    #[test]
    fn one_account_refuses_every_other() {
        let m = members(&[]);
        assert!(!m.organization());
        assert_eq!(m.home(), &Scope::new("111111111111", "eu-west-1"));
        assert_eq!(m.admits(m.home()), Ok(()));
        assert_eq!(
            m.admits(&Scope::new("222222222222", "eu-west-1")),
            Err(Refusal::OneAccount("222222222222".into()))
        );
    }

    #[test]
    fn an_organization_admits_listed_accounts_only() {
        let m = members(&[
            ("MEMBER_ROLE_NAME", "tourniquet-member"),
            ("MEMBER_ACCOUNTS", "222222222222, 333333333333"),
        ]);
        assert!(m.organization());
        assert_eq!(m.admits(&Scope::new("222222222222", "us-east-2")), Ok(()));
        assert_eq!(
            m.admits(&Scope::new("444444444444", "eu-west-1")),
            Err(Refusal::NotListed("444444444444".into()))
        );
        assert_eq!(
            m.admits(&Scope::new("*", "eu-west-1")),
            Err(Refusal::NotAnAccount("*".into()))
        );
        assert_eq!(
            m.role_arn("222222222222").as_deref(),
            Some("arn:aws:iam::222222222222:role/tourniquet-member")
        );
        let session = |account: &str, role: &str, name: &str| Principal::AssumedRole {
            arn: format!("arn:aws:sts::{account}:assumed-role/{role}/{name}"),
            principal_id: "AROA:x".into(),
            account: account.into(),
            role_arn: Some(format!("arn:aws:iam::{account}:role/{role}")),
            access_key_id: None,
            session_created: None,
            ec2_role_delivery: None,
        };
        let ours = session(
            "222222222222",
            "tourniquet-member",
            "tourniquet-isolate-instance",
        );
        assert!(m.own_session(&ours, "222222222222"));
        assert!(
            !m.own_session(&ours, "333333333333"),
            "acting on another account's resources, it is not the member role there"
        );
        let unlisted = session("444444444444", "tourniquet-member", "tourniquet-isolate");
        assert!(!m.own_session(&unlisted, "444444444444"));
        let renamed = session("222222222222", "tourniquet-member", "admin-console");
        assert!(!m.own_session(&renamed, "222222222222"));
        let other = session("222222222222", "Admin", "tourniquet-isolate-instance");
        assert!(!m.own_session(&other, "222222222222"));
    }

    #[test]
    fn an_event_is_in_its_account_and_region_and_a_finding_where_it_says() {
        let finding = |account: &str| {
            let mut event: serde_json::Value = serde_json::from_str(include_str!(
                "../../../events/isolate-instance/guardduty-finding.json"
            ))
            .unwrap();
            event["account"] = "111111111111".into();
            event["detail"]["accountId"] = account.into();
            event["detail"]["region"] = "ap-south-1".into();
            crate::events::decode(&event).unwrap()
        };
        let org = members(&[("MEMBER_ROLE_NAME", "tq-member")]);
        // A delegated administrator receives its members' findings on its own bus.
        assert_eq!(
            org.scope_of(&finding("222222222222")),
            Scope::new("222222222222", "ap-south-1")
        );
        let one = members(&[]);
        assert_eq!(one.scope_of(&finding("111111111111")), *one.home());
        assert_eq!(
            one.admits(&one.scope_of(&finding("222222222222"))),
            Err(Refusal::OneAccount("222222222222".into()))
        );
        assert_eq!(one.scope_of(&crate::events::Trigger::Sweep), *one.home());
    }

    #[test]
    fn an_organization_reaches_beyond_its_own_region_through_the_member_role() {
        let org = members(&[("MEMBER_ROLE_NAME", "tq-member")]);
        assert!(!org.through_role(org.home()));
        assert!(org.through_role(&Scope::new("111111111111", "eu-central-1")));
        assert!(org.through_role(&Scope::new("222222222222", "eu-west-1")));
        let one = members(&[]);
        assert!(!one.through_role(&Scope::new("111111111111", "eu-central-1")));
    }

    #[test]
    fn bad_settings_are_named() {
        for (name, value) in [
            ("MEMBER_ACCOUNTS", "12345"),
            ("MEMBER_ROLE_NAME", "role/with/path"),
        ] {
            let err = MemberConfig::from_env(&Env::from_pairs([(name, value)])).unwrap_err();
            assert!(err.to_string().contains(name), "{err}");
        }
    }
}
