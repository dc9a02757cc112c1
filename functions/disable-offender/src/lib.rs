//! disable-offender: count offenses per principal, disable repeat offenders reversibly.
//!
//! Every offense is recorded and counted in a rolling window ("has this happened
//! before?"); a failed attempt counts too. Past `OFFENSE_LIMIT`, the principal is disabled
//! without deleting anything: an IAM user's access keys are set inactive and an inline
//! deny-all is attached (which also stops the console and sessions already issued); an
//! assumed-role session gets an inline deny on its role scoped to that session
//! (`aws:userid`), so other users of the role keep working. Root, AWS services and
//! protected principals are never disabled: a human is woken instead.

pub mod config;
pub mod instance;
pub mod permissions;
mod plan;
pub mod policy;
pub mod upstream;

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_iam::Client;
use aws_sdk_iam::error::ProvideErrorMetadata;
use aws_sdk_iam::types::StatusType;
use futures_util::future::join_all;
use plan::Planned;
use serde::Serialize;
use serde_json::json;
use tourniquet::console::{self, Link};
use tourniquet::errors::sdk_message;
use tourniquet::exempt::PrincipalExemption;
use tourniquet::history::OffenseRecord;
use tourniquet::members::{Members, PerScope};
use tourniquet::own::Own;
use tourniquet::safeguard::Safeguard;
use tourniquet::time::rfc3339;
use tourniquet::{
    Case, Context, Framework, Intake, IntakeError, Principal, Remediation, Severity, Step, Subject,
    Trigger, Verdict, VerifyError,
};
use tourniquet_trail::touched;
use upstream::{Assumer, Upstream};

pub use config::{DisableConfig, RoleDisableMode};

pub const FUNCTION: &str = "disable-offender";

/// Who committed an offense, as far as disabling goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Offender {
    User {
        arn: String,
        name: String,
    },
    RoleSession {
        role_arn: String,
        role_name: String,
        session_arn: String,
        /// `ROLEID:SESSION`, the `aws:userid` of the session.
        user_id: String,
    },
    /// A session of an instance's role credentials: CloudTrail says EC2 delivered them
    /// (`ec2RoleDelivery`), or the session is named after an instance, which EC2 must then
    /// confirm. Answered on that instance alone (see `instance`).
    InstanceSession {
        role_arn: String,
        role_name: String,
        session_arn: String,
        user_id: String,
        instance_id: String,
        /// CloudTrail marked the credentials as delivered by EC2; otherwise only the session
        /// name says so, which whoever assumes the role chooses.
        delivered: bool,
    },
    /// A session of an IAM Identity Center role: IAM refuses changes to those roles, the
    /// person is disabled in Identity Center.
    IdentityCenter {
        role_arn: String,
        /// The session name, which Identity Center sets to the person's user name.
        person: String,
    },
    /// Root, an AWS service, a federated user, or an identity without an IAM handle.
    Untouchable {
        arn: String,
        why: String,
    },
}

impl Offender {
    pub fn of(principal: &Principal) -> Self {
        match principal {
            Principal::IamUser { arn, user_name, .. } => Self::User {
                arn: arn.clone(),
                name: user_name.clone(),
            },
            Principal::AssumedRole {
                arn,
                principal_id,
                role_arn: Some(role_arn),
                ec2_role_delivery,
                ..
            } => match role_arn.rsplit('/').next().filter(|n| !n.is_empty()) {
                Some(_) if role_arn.contains(":role/aws-reserved/sso.amazonaws.com/") => {
                    Self::IdentityCenter {
                        role_arn: role_arn.clone(),
                        person: arn.rsplit('/').next().unwrap_or_default().to_owned(),
                    }
                }
                Some(role_name)
                    if role_arn.contains(":role/")
                        && (ec2_role_delivery.is_some()
                            || arn
                                .rsplit('/')
                                .next()
                                .is_some_and(tourniquet::arn::is_instance_id)) =>
                {
                    Self::InstanceSession {
                        role_name: role_name.to_owned(),
                        role_arn: role_arn.clone(),
                        session_arn: arn.clone(),
                        user_id: principal_id.clone(),
                        instance_id: arn.rsplit('/').next().unwrap_or_default().to_owned(),
                        delivered: ec2_role_delivery.is_some(),
                    }
                }
                Some(role_name) if role_arn.contains(":role/") => Self::RoleSession {
                    role_name: role_name.to_owned(),
                    role_arn: role_arn.clone(),
                    session_arn: arn.clone(),
                    user_id: principal_id.clone(),
                },
                _ => Self::Untouchable {
                    arn: arn.clone(),
                    why: format!("the session's issuer {role_arn} is not an IAM role"),
                },
            },
            Principal::AssumedRole { arn, .. } => Self::Untouchable {
                arn: arn.clone(),
                why: "the event does not name the role behind the session".into(),
            },
            Principal::Root { arn, .. } => Self::Untouchable {
                arn: arn.clone(),
                why: "the root user cannot be disabled automatically".into(),
            },
            Principal::AwsService { invoked_by } => Self::Untouchable {
                arn: invoked_by.clone(),
                why: "an AWS service acting for the account is not disabled".into(),
            },
            Principal::FederatedUser { arn, .. } => Self::Untouchable {
                arn: arn.clone(),
                why: "a federated user is disabled at its identity provider".into(),
            },
            Principal::Other {
                identity_type, arn, ..
            } => Self::Untouchable {
                arn: arn.clone().unwrap_or_else(|| identity_type.clone()),
                why: format!("a {identity_type} identity cannot be disabled automatically"),
            },
        }
    }

    /// Offenses are counted per user, per role (not per session: a new session must not
    /// reset the count), per instance (its sessions all bear its name), per root or service.
    pub fn key(&self) -> &str {
        match self {
            Self::User { arn, .. } => arn,
            Self::InstanceSession { session_arn, .. } => session_arn,
            Self::RoleSession { role_arn, .. } | Self::IdentityCenter { role_arn, .. } => role_arn,
            Self::Untouchable { arn, .. } => arn,
        }
    }
}

/// What to disable, with what it had before.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Disable {
    pub offender: Offender,
    /// The user's access keys that are active now.
    pub active_keys: Vec<String>,
    /// For a role in `sessions-before-now` mode: the sessions issued before this instant
    /// (RFC 3339) are denied.
    pub revoke_before: Option<String>,
    /// For a role session: the principal that assumed the role, disabled too.
    pub upstream: Option<Upstream>,
    /// For an instance's session: the instance, confirmed live with the role.
    pub instance: Option<instance::Instance>,
    /// For an instance's session whose instance could not be confirmed: why.
    pub unconfirmed: Option<String>,
}

/// An IAM user as IAM has it now.
struct LiveUser {
    active_keys: Vec<String>,
    /// Every access key, active or not.
    keys: Vec<String>,
    /// Tourniquet's deny-all policy is attached.
    denied: bool,
}

/// An offense, as found in an event.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Offense {
    pub principal: Principal,
    pub event: String,
    /// The call succeeded: it weakened something (a denied attempt did not).
    #[serde(default)]
    pub succeeded: bool,
    /// The region the call was made in (`awsRegion`), where an instance's session is looked up.
    #[serde(default)]
    pub region: String,
}

/// The clients of one account.
#[derive(Debug, Clone)]
pub struct Reach {
    iam: Client,
    cloudtrail: aws_sdk_cloudtrail::Client,
    ec2: aws_sdk_ec2::Client,
}

impl Reach {
    pub fn new(sdk: &aws_config::SdkConfig) -> Self {
        Self {
            iam: Client::new(sdk),
            cloudtrail: aws_sdk_cloudtrail::Client::new(sdk),
            ec2: aws_sdk_ec2::Client::new(sdk),
        }
    }
}

/// The disable-offender remediation.
pub struct Disabler {
    /// Per account acted in; the function's own built at cold start.
    reach: PerScope<Reach>,
    members: Arc<Members>,
    config: DisableConfig,
    safeguard: Safeguard,
    history: tourniquet::history::History,
    exemptions: tourniquet::exempt::Exemptions,
}

/// Services whose calls are offenses only when they disarm Tourniquet itself. (Rules are
/// not among them: whether a rule is Tourniquet's takes reading it, which guard-tourniquet
/// does.)
const DISARMING_SOURCES: &[&str] = &[
    "events.amazonaws.com",
    "lambda.amazonaws.com",
    "dynamodb.amazonaws.com",
    "sns.amazonaws.com",
    "iam.amazonaws.com",
];

fn history_lines(offenses: &[OffenseRecord]) -> String {
    offenses
        .iter()
        .map(|o| {
            let at = std::time::UNIX_EPOCH + Duration::from_millis(o.at_ms);
            format!("  - {} {}", rfc3339(at), o.event)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// What the investigation of a disabled principal looks at first, and where.
fn follow_up(offender: &Offender, ctx: &Context<'_>) -> (Vec<String>, Vec<Link>) {
    let partition = ctx.framework.partition();
    let region = ctx
        .trigger
        .envelope()
        .map(|e| e.region.as_str())
        .unwrap_or_default();
    let common = "Look for persistence it may have left: new users, access keys, roles, trust \
                  policies, Lambda functions or EventBridge rules created since its first offense.";
    match offender {
        Offender::User { name, .. } => (
            vec![
                format!("Find what user {name} did: its CloudTrail event history, all regions."),
                common.to_owned(),
                format!("Ask the owner of {name}; rotate every secret its keys could read."),
            ],
            vec![
                console::iam_user(partition, name),
                console::events_by(partition, region, name),
            ],
        ),
        Offender::RoleSession {
            role_name, user_id, ..
        } => {
            let session = user_id.split_once(':').map_or(user_id.as_str(), |(_, s)| s);
            (
                vec![
                    format!(
                        "Find who assumed role {role_name}: CloudTrail AssumeRole events for it; \
                         the offending session was {user_id} (its name is chosen by the \
                         assumer, not proof of who)."
                    ),
                    common.to_owned(),
                    "Close the way in: the role's trust policy, and the credentials of \
                     whoever assumed it."
                        .to_owned(),
                ],
                vec![
                    console::iam_role(partition, role_name),
                    console::events_by(partition, region, session),
                ],
            )
        }
        Offender::InstanceSession {
            instance_id,
            role_name,
            ..
        } => (
            vec![
                format!(
                    "Find how the credentials of instance {instance_id} (role {role_name}) were                      used: CloudTrail events of session {instance_id}, every region."
                ),
                format!(
                    "Find how they were taken: a shell on {instance_id}, or a request forged to                      its metadata service (IMDSv1 lets any SSRF read them; require IMDSv2)."
                ),
                common.to_owned(),
            ],
            vec![console::events_by(partition, region, instance_id)],
        ),
        Offender::IdentityCenter { .. } | Offender::Untouchable { .. } => (Vec::new(), Vec::new()),
    }
}

/// An Identity Center offender over the limit: IAM refuses changes to its role, so a person
/// is woken with the exact steps.
fn identity_center_notice(role_arn: &str, person: &str, record: &str) -> Verdict<Disable> {
    let role = role_arn.rsplit('/').next().unwrap_or(role_arn);
    // AWSReservedSSO_<permission set>_<hash>
    let permission_set = role
        .strip_prefix("AWSReservedSSO_")
        .and_then(|r| r.rsplit_once('_'))
        .map_or(role, |(set, _)| set);
    let account = role_arn.split(':').nth(4).unwrap_or("");
    Verdict::Notice {
        severity: Severity::Critical,
        headline: format!("disable {person} in IAM Identity Center now"),
        detail: format!(
            "{record}\nThe offender is {person}, signed in through IAM Identity Center \
             (permission set {permission_set}, role {role_arn}). IAM refuses changes to \
             Identity Center roles, so nothing was changed. A person must now:\n  \
             - disable the user {person} in IAM Identity Center (Users > {person} > Disable \
             user access), which stops new sign-ins;\n  \
             - remove the account assignment: aws sso-admin delete-account-assignment \
             --instance-arn <Identity Center instance> --target-id {account} --target-type \
             AWS_ACCOUNT --permission-set-arn <ARN of {permission_set}> --principal-type USER \
             --principal-id <user id of {person}>;\n  \
             - sessions already issued last until they expire (the permission set's session \
             duration): watch the user's activity until then."
        ),
        facts: json!({
            "principal": role_arn,
            "person": person,
            "permission_set": permission_set,
            "account": account,
        }),
    }
}

/// How a person gives a disabled user back its keys and its rights.
fn user_undo(name: &str, keys: &[String]) -> Vec<String> {
    keys.iter()
        .map(|k| {
            format!(
                "aws iam update-access-key --user-name {name} --access-key-id {k} --status Active"
            )
        })
        .chain([format!(
            "aws iam delete-user-policy --user-name {name} --policy-name {}",
            policy::USER_POLICY
        )])
        .collect()
}

impl Disabler {
    pub fn new(fw: &Framework, config: DisableConfig) -> Self {
        Self {
            reach: PerScope::new(fw.members.clone(), &fw.sdk, Reach::new),
            members: fw.members.clone(),
            safeguard: fw.safeguard(config.safeguard),
            history: fw.history.clone(),
            exemptions: fw.exemptions.clone(),
            config,
        }
    }

    /// The clients of the account an offender's ARN names (IAM is global: the function's
    /// own region serves).
    async fn reach_for(&self, key: &str) -> Result<Reach, String> {
        let scope = self.members.scope_of_key(key);
        self.reach.get(&scope).await.map_err(|e| e.to_string())
    }

    /// The principal that assumed the role of this session, from CloudTrail's record.
    async fn upstream(&self, r: &Reach, principal: &Principal) -> Upstream {
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
        let (arn, name) = match upstream::assumer(&r.cloudtrail, key, created, account).await {
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

    /// The user's live state; `None` when it does not exist.
    async fn live_user(&self, r: &Reach, name: &str) -> Result<Option<LiveUser>, String> {
        let (keys, policy) = tokio::join!(
            r.iam.list_access_keys().user_name(name).send(),
            r.iam
                .get_user_policy()
                .user_name(name)
                .policy_name(policy::USER_POLICY)
                .send()
        );
        let (active, all) = match keys {
            Ok(k) => {
                let ids = |active_only: bool| {
                    k.access_key_metadata()
                        .iter()
                        .filter(|k| !active_only || k.status() == Some(&StatusType::Active))
                        .filter_map(|k| k.access_key_id().map(str::to_owned))
                        .collect::<Vec<_>>()
                };
                (ids(true), ids(false))
            }
            Err(e) if e.code() == Some("NoSuchEntity") => return Ok(None),
            Err(e) => return Err(format!("ListAccessKeys {name}: {}", sdk_message(&e))),
        };
        let denied = match policy {
            Ok(_) => true,
            Err(e) if e.code() == Some("NoSuchEntity") => false,
            Err(e) => return Err(format!("GetUserPolicy {name}: {}", sdk_message(&e))),
        };
        Ok(Some(LiveUser {
            active_keys: active,
            keys: all,
            denied,
        }))
    }

    async fn live_role(
        &self,
        r: &Reach,
        role: &str,
        user_id: &str,
    ) -> Result<Option<bool>, String> {
        match r
            .iam
            .get_role_policy()
            .role_name(role)
            .policy_name(policy::session_policy_name(user_id))
            .send()
            .await
        {
            Ok(_) => Ok(Some(true)),
            Err(e) if e.code() == Some("NoSuchEntity") => {
                match r.iam.get_role().role_name(role).send().await {
                    Ok(_) => Ok(Some(false)),
                    Err(e) if e.code() == Some("NoSuchEntity") => Ok(None),
                    Err(e) => Err(format!("GetRole {role}: {}", sdk_message(&e))),
                }
            }
            Err(e) => Err(format!("GetRolePolicy {role}: {}", sdk_message(&e))),
        }
    }

    /// The cutoff of the role's revoke policy, if it has one; `None` when the role is gone.
    async fn live_revocation(
        &self,
        r: &Reach,
        role: &str,
    ) -> Result<Option<Option<String>>, String> {
        match r
            .iam
            .get_role_policy()
            .role_name(role)
            .policy_name(policy::REVOKE_POLICY)
            .send()
            .await
        {
            Ok(out) => Ok(Some(policy::cutoff_of(out.policy_document()))),
            Err(e) if e.code() == Some("NoSuchEntity") => {
                match r.iam.get_role().role_name(role).send().await {
                    Ok(_) => Ok(Some(None)),
                    Err(e) if e.code() == Some("NoSuchEntity") => Ok(None),
                    Err(e) => Err(format!("GetRole {role}: {}", sdk_message(&e))),
                }
            }
            Err(e) => Err(format!("GetRolePolicy {role}: {}", sdk_message(&e))),
        }
    }

    /// Every session of the role issued before `cutoff`, whatever its name.
    async fn revoke_sessions(&self, r: &Reach, role: &str, cutoff: &str) -> Vec<Step> {
        let result = r
            .iam
            .put_role_policy()
            .role_name(role)
            .policy_name(policy::REVOKE_POLICY)
            .policy_document(policy::deny_sessions_before(cutoff).to_string())
            .send()
            .await;
        vec![match result {
            Ok(_) => Step::ok(
                "revoke-sessions",
                format!(
                    "inline policy {} on role {role} denies every session issued before {cutoff}",
                    policy::REVOKE_POLICY
                ),
            ),
            Err(e) => Step::critical("revoke-sessions", sdk_message(&e)),
        }]
    }

    /// The principal behind a role session: disabled when it is a user of the account;
    /// otherwise a person is woken with what is known.
    async fn disable_upstream(
        &self,
        r: &Reach,
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

    async fn disable_user(&self, r: &Reach, name: &str, keys: &[String]) -> Vec<Step> {
        let deactivate = join_all(keys.iter().map(|key| async move {
            let step = format!("deactivate key {key}");
            match r
                .iam
                .update_access_key()
                .user_name(name)
                .access_key_id(key)
                .status(StatusType::Inactive)
                .send()
                .await
            {
                Ok(_) => Step::ok(step, "Inactive"),
                Err(e) => Step::critical(step, sdk_message(&e)),
            }
        }));
        let deny = async {
            match r
                .iam
                .put_user_policy()
                .user_name(name)
                .policy_name(policy::USER_POLICY)
                .policy_document(policy::deny_all().to_string())
                .send()
                .await
            {
                Ok(_) => Step::ok(
                    "deny-all",
                    format!("inline policy {} on user {name}", policy::USER_POLICY),
                ),
                Err(e) => Step::critical("deny-all", sdk_message(&e)),
            }
        };
        let (mut steps, deny) = tokio::join!(deactivate, deny);
        steps.push(deny);
        steps
    }

    async fn disable_session(&self, r: &Reach, role: &str, user_id: &str) -> Vec<Step> {
        let name = policy::session_policy_name(user_id);
        let result = r
            .iam
            .put_role_policy()
            .role_name(role)
            .policy_name(&name)
            .policy_document(policy::deny_session(user_id).to_string())
            .send()
            .await;
        vec![match result {
            Ok(_) => Step::ok(
                "session-deny",
                format!("inline policy {name} on role {role} denies session {user_id}"),
            ),
            Err(e) => Step::critical("session-deny", sdk_message(&e)),
        }]
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
        let Trigger::ApiCall(envelope, call) = trigger else {
            return Ok(Intake::Ignore("offenses are API calls".into()));
        };
        let offender = Offender::of(&call.principal);
        // A call on a trail counts only when it weakens it, judged by the trail model.
        let weakens = if call.event_source == "cloudtrail.amazonaws.com" {
            let found = tourniquet_trail::weakenings_of(&call.event_name, &call.request_parameters);
            if found.is_empty() {
                return Ok(Intake::Ignore(format!(
                    "{} only adds coverage: not an offense",
                    call.event_name
                )));
            }
            format!(": {}", found.join(", "))
        } else if let Some(own) = self
            .config
            .own
            .named(call)
            .filter(|o| !matches!(o, Own::Rule(_)))
            .filter(|_| envelope.account == self.members.home().account)
        {
            // A deploy of the stack changes its resources through CloudFormation; whether a
            // call through CloudFormation was this stack's deploy, the guard decides and pages.
            if call.source_ip.as_deref() == Some("cloudformation.amazonaws.com") {
                return Ok(Intake::Ignore(format!(
                    "{} on {} made through CloudFormation: not counted",
                    call.event_name,
                    own.describe()
                )));
            }
            format!(": disarms {}", own.describe())
        } else if touched::is_delivery_call(call) {
            // A call on a bucket or a key counts only when it is a trail's, and weakens it.
            let r = self
                .reach
                .get(&self.members.scope_of(trigger))
                .await
                .map_err(|e| IntakeError::Unavailable(e.to_string()))?;
            let trails = touched::trails_touched(&r.cloudtrail, call)
                .await
                .map_err(IntakeError::Unavailable)?;
            let found = tourniquet_trail::weakenings_of(&call.event_name, &call.request_parameters);
            if trails.is_empty() || found.is_empty() {
                return Ok(Intake::Ignore(format!(
                    "{} does not weaken a trail's bucket or key: not an offense",
                    call.event_name
                )));
            }
            let names: Vec<&str> = trails.iter().map(|t| t.name.as_str()).collect();
            format!(": {} (trail {})", found.join(", "), names.join(", "))
        } else if DISARMING_SOURCES.contains(&call.event_source.as_str()) {
            return Ok(Intake::Ignore(format!(
                "{} names none of Tourniquet's functions, keys, table, topic or roles: not an \
                 offense",
                call.event_name
            )));
        } else {
            String::new()
        };
        let event = match &call.error_code {
            Some(code) => format!("{}{weakens} (attempt, failed: {code})", call.event_name),
            None => format!("{}{weakens}", call.event_name),
        };
        Ok(Intake::Cases(vec![Case {
            resource: offender.key().to_owned(),
            target: Offense {
                principal: call.principal.clone(),
                event,
                succeeded: call.error_code.is_none(),
                region: call.region.clone(),
            },
        }]))
    }

    async fn verify(
        &self,
        ctx: &Context<'_>,
        case: &Case<Offense>,
    ) -> Result<Verdict<Disable>, VerifyError> {
        let offender = Offender::of(&case.target.principal);
        let key = offender.key();
        let r = &self.reach_for(key).await.map_err(VerifyError)?;
        let window = self.config.offense_window;
        let since = ctx.now.checked_sub(window).unwrap_or(std::time::UNIX_EPOCH);
        let mut offenses = self
            .history
            .offenses_since(key, since)
            .await
            .map_err(|e| VerifyError(e.to_string()))?;
        // This delivery counts whether or not its record (the record stage) is written yet.
        if !offenses.iter().any(|o| o.delivery_id == ctx.delivery_id) {
            offenses.push(OffenseRecord {
                at_ms: tourniquet::time::epoch_millis(ctx.now),
                delivery_id: ctx.delivery_id.to_owned(),
                event: case.target.event.clone(),
                succeeded: case.target.succeeded,
            });
        }
        let count = offenses.len();
        let limit = self.config.offense_limit as usize;
        let days = window.as_secs() / 86_400;
        let record = format!(
            "{key} has {count} offense(s) in the last {days} day(s):\n{}",
            history_lines(&offenses)
        );
        let facts =
            json!({"principal": key, "offenses": offenses, "limit": limit, "window_days": days});
        if count <= limit {
            return Ok(Verdict::Notice {
                severity: Severity::Info,
                headline: format!("offense {count} of {limit} allowed: {key}"),
                detail: format!(
                    "{record}\nThe principal is disabled when it has more than {limit} in {days} day(s)."
                ),
                facts,
            });
        }
        if let Some(PrincipalExemption::Protected(pattern)) =
            self.exemptions.check(&case.target.principal)
        {
            return Ok(Verdict::Exempt(format!(
                "{key} is a protected principal ({pattern})\n{record}"
            )));
        }
        let planned = match &offender {
            Offender::Untouchable { why, .. } => {
                return Ok(Verdict::Exempt(format!("{why}\n{record}")));
            }
            Offender::IdentityCenter { role_arn, person } => {
                return Ok(identity_center_notice(role_arn, person, &record));
            }
            Offender::User { name, .. } => self.plan_user(r, &offender, &case.target, name).await?,
            Offender::RoleSession { .. } => {
                self.plan_role(r, ctx, &offender, &case.target, &offenses)
                    .await?
            }
            Offender::InstanceSession { .. } => {
                self.plan_instance(r, ctx, &offender, &case.target, &offenses)
                    .await?
            }
        };
        let (disable, before, plan, undo, narrowed) = match planned {
            Planned::Act(p) => (p.disable, p.before, p.plan, p.undo, p.narrowed),
            Planned::Done(verdict) => return Ok(verdict),
        };
        let record = match narrowed {
            Some(why) => format!("{record}\nWhy no wider: {why}."),
            None => record,
        };
        let (next_steps, links) = follow_up(&disable.offender, ctx);
        Ok(Verdict::Act(Subject {
            subject: disable,
            before,
            summary: record,
            plan,
            undo,
            next_steps,
            links,
        }))
    }

    /// Every offense is counted, whatever becomes of its incident.
    async fn record(
        &self,
        ctx: &Context<'_>,
        case: &Case<Offense>,
        _: &Verdict<Disable>,
    ) -> Result<(), String> {
        let key = Offender::of(&case.target.principal).key().to_owned();
        let window = self.config.offense_window;
        self.history
            .record_offense(
                &key,
                ctx.delivery_id,
                ctx.now,
                &case.target.event,
                case.target.succeeded,
                window,
            )
            .await
            .map_err(|e| e.to_string())
    }

    /// What is still active now is disabled; the undo also names what the invocation that
    /// died had already deactivated, from the state it recorded.
    async fn resume(
        &self,
        ctx: &Context<'_>,
        case: &Case<Offense>,
        before: &serde_json::Value,
    ) -> Result<Verdict<Disable>, VerifyError> {
        let mut verdict = self.verify(ctx, case).await?;
        if let Verdict::Act(subject) = &mut verdict
            && let Offender::User { name, .. } = &subject.subject.offender
        {
            let recorded: Vec<String> = before
                .get("active_keys")
                .and_then(|k| serde_json::from_value(k.clone()).ok())
                .unwrap_or_default();
            subject.undo = user_undo(name, &recorded);
            subject.before = before.clone();
        }
        Ok(verdict)
    }

    async fn act(&self, _: &Context<'_>, case: &Case<Offense>, disable: &Disable) -> Vec<Step> {
        let r = match self.reach_for(disable.offender.key()).await {
            Ok(r) => r,
            Err(e) => return vec![Step::critical("reach", format!("NOTHING disabled: {e}"))],
        };
        let r = &r;
        match &disable.offender {
            Offender::User { name, .. } => self.disable_user(r, name, &disable.active_keys).await,
            Offender::RoleSession { role_name, .. } if disable.revoke_before.is_some() => {
                let cutoff = disable.revoke_before.as_deref().unwrap_or_default();
                let (mut steps, upstream) = tokio::join!(
                    self.revoke_sessions(r, role_name, cutoff),
                    self.disable_upstream(r, role_name, disable.upstream.as_ref())
                );
                steps.extend(upstream);
                steps
            }
            Offender::RoleSession {
                role_name, user_id, ..
            } => {
                let (mut steps, upstream) = tokio::join!(
                    self.disable_session(r, role_name, user_id),
                    self.disable_upstream(r, role_name, disable.upstream.as_ref())
                );
                steps.extend(upstream);
                steps
            }
            Offender::InstanceSession {
                role_name, user_id, ..
            } => match (&disable.instance, &disable.unconfirmed) {
                (Some(inst), _) => {
                    let scope = tourniquet::members::Scope::new(
                        tourniquet::arn::Arn::parse(&inst.arn).map_or("", |a| a.account),
                        &inst.region,
                    );
                    let ec2 = match self.reach.get(&scope).await {
                        Ok(there) => there.ec2,
                        Err(e) => {
                            return vec![Step::critical(
                                "reach",
                                format!("NOTHING done on {}: {e}", inst.id),
                            )];
                        }
                    };
                    instance::answer(
                        &ec2,
                        &r.iam,
                        &self.history,
                        role_name,
                        inst,
                        &self.config.taint_key,
                        &case.target.event,
                    )
                    .await
                }
                (None, unconfirmed) => {
                    let mut steps = self.disable_session(r, role_name, user_id).await;
                    steps.push(Step::critical(
                        "instance",
                        format!(
                            "the instance behind session {user_id} was not confirmed ({}): its                              credentials are denied by session name; isolate it by hand",
                            unconfirmed.as_deref().unwrap_or("unknown")
                        ),
                    ));
                    steps
                }
            },
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_instances_session_is_the_instances() {
        let session = |name: &str, delivery: Option<&str>| Principal::AssumedRole {
            arn: format!("arn:aws:sts::1:assumed-role/web/{name}"),
            principal_id: format!("AROA1:{name}"),
            account: "1".into(),
            access_key_id: None,
            session_created: None,
            ec2_role_delivery: delivery.map(str::to_owned),
            role_arn: Some("arn:aws:iam::1:role/web".into()),
        };
        let delivered = Offender::of(&session("i-0123456789abcdef0", Some("2.0")));
        assert!(
            matches!(&delivered, Offender::InstanceSession { instance_id, delivered: true, .. }
                if instance_id == "i-0123456789abcdef0"),
            "{delivered:?}"
        );
        // Counted per instance, not per role: one instance's offenses are its own.
        assert_eq!(
            delivered.key(),
            "arn:aws:sts::1:assumed-role/web/i-0123456789abcdef0"
        );
        // Named like an instance by whoever assumed the role: EC2 must confirm it.
        let named = Offender::of(&session("i-0123456789abcdef0", None));
        assert!(matches!(
            named,
            Offender::InstanceSession {
                delivered: false,
                ..
            }
        ));
        assert!(matches!(
            Offender::of(&session("build-7", None)),
            Offender::RoleSession { .. }
        ));
    }

    #[test]
    fn offenders_are_classified() {
        let user = Principal::IamUser {
            arn: "arn:aws:iam::1:user/alice".into(),
            user_name: "alice".into(),
            account: "1".into(),
            access_key_id: None,
        };
        assert_eq!(Offender::of(&user).key(), "arn:aws:iam::1:user/alice");
        let session = Principal::AssumedRole {
            arn: "arn:aws:sts::1:assumed-role/deploy/ci".into(),
            principal_id: "AROA1:ci".into(),
            account: "1".into(),
            access_key_id: None,
            session_created: None,
            ec2_role_delivery: None,
            role_arn: Some("arn:aws:iam::1:role/team/deploy".into()),
        };
        let o = Offender::of(&session);
        assert_eq!(
            o.key(),
            "arn:aws:iam::1:role/team/deploy",
            "counted per role"
        );
        assert!(
            matches!(o, Offender::RoleSession { ref role_name, ref user_id, .. } if role_name == "deploy" && user_id == "AROA1:ci")
        );
        let sso = Principal::AssumedRole {
            arn: "arn:aws:sts::1:assumed-role/AWSReservedSSO_Admin_0a1b/jane@example.com".into(),
            principal_id: "AROA2:jane@example.com".into(),
            account: "1".into(),
            access_key_id: None,
            session_created: None,
            ec2_role_delivery: None,
            role_arn: Some(
                "arn:aws:iam::1:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_0a1b"
                    .into(),
            ),
        };
        assert!(
            matches!(Offender::of(&sso), Offender::IdentityCenter { ref person, .. } if person == "jane@example.com")
        );
        let root = Principal::Root {
            arn: "arn:aws:iam::1:root".into(),
            account: "1".into(),
        };
        assert!(matches!(Offender::of(&root), Offender::Untouchable { .. }));
        let service = Principal::AwsService {
            invoked_by: "cloudtrail.amazonaws.com".into(),
        };
        assert!(matches!(
            Offender::of(&service),
            Offender::Untouchable { .. }
        ));
        let no_issuer = Principal::AssumedRole {
            arn: "arn:aws:sts::1:assumed-role/x/y".into(),
            principal_id: "p".into(),
            account: "1".into(),
            access_key_id: None,
            session_created: None,
            ec2_role_delivery: None,
            role_arn: None,
        };
        assert!(matches!(
            Offender::of(&no_issuer),
            Offender::Untouchable { .. }
        ));
    }
}
