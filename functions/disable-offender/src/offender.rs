//! Who committed an offense, as far as disabling goes: read from the call's principal, and
//! the key its offenses are counted under.

use serde::Serialize;
use tourniquet::Principal;

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
            } => Self::of_session(arn, principal_id, role_arn, ec2_role_delivery.is_some()),
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

    /// A role session, by the role that issued it: an Identity Center role, an instance's
    /// role (`delivered`: CloudTrail says EC2 delivered the credentials), any other IAM role.
    fn of_session(arn: &str, principal_id: &str, role_arn: &str, delivered: bool) -> Self {
        match role_arn.rsplit('/').next().filter(|n| !n.is_empty()) {
            Some(_) if role_arn.contains(":role/aws-reserved/sso.amazonaws.com/") => {
                Self::IdentityCenter {
                    role_arn: role_arn.to_owned(),
                    person: arn.rsplit('/').next().unwrap_or_default().to_owned(),
                }
            }
            Some(role_name)
                if role_arn.contains(":role/")
                    && (delivered
                        || arn
                            .rsplit('/')
                            .next()
                            .is_some_and(tourniquet::arn::is_instance_id)) =>
            {
                Self::InstanceSession {
                    role_name: role_name.to_owned(),
                    role_arn: role_arn.to_owned(),
                    session_arn: arn.to_owned(),
                    user_id: principal_id.to_owned(),
                    instance_id: arn.rsplit('/').next().unwrap_or_default().to_owned(),
                    delivered,
                }
            }
            Some(role_name) if role_arn.contains(":role/") => Self::RoleSession {
                role_name: role_name.to_owned(),
                role_arn: role_arn.to_owned(),
                session_arn: arn.to_owned(),
                user_id: principal_id.to_owned(),
            },
            _ => Self::Untouchable {
                arn: arn.to_owned(),
                why: format!("the session's issuer {role_arn} is not an IAM role"),
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
