//! Who made an API call, from CloudTrail's `userIdentity`: the kinds of principal and
//! what each carries.

use serde::Serialize;

use super::{EventError, Fields};

/// Who made an API call, from CloudTrail's `userIdentity`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(tag = "type")]
pub enum Principal {
    IamUser {
        arn: String,
        user_name: String,
        account: String,
        access_key_id: Option<String>,
    },
    AssumedRole {
        /// The session ARN (`arn:aws:sts::…:assumed-role/ROLE/SESSION`).
        arn: String,
        /// `ROLEID:SESSION`, the value of `aws:userid` for this session.
        principal_id: String,
        account: String,
        /// The role that issued the session, with its path (`sessionContext.sessionIssuer`).
        role_arn: Option<String>,
        /// The session's access key (`ASIA…`): CloudTrail's record of the `AssumeRole` call
        /// that issued it names who assumed the role.
        #[serde(default)]
        access_key_id: Option<String>,
        /// When the session was issued (`sessionContext.attributes.creationDate`).
        #[serde(default)]
        session_created: Option<String>,
        /// Set by EC2 when the credentials were delivered to an instance through its
        /// instance profile (`sessionContext.ec2RoleDelivery`, `1.0` or `2.0` for IMDSv1 or
        /// v2): the session name is then the instance id, chosen by EC2, not by an assumer.
        #[serde(default)]
        ec2_role_delivery: Option<String>,
    },
    Root {
        arn: String,
        account: String,
    },
    FederatedUser {
        arn: String,
        principal_id: String,
        account: String,
        issuer_arn: Option<String>,
    },
    AwsService {
        invoked_by: String,
    },
    /// Any other identity type CloudTrail may report (AWSAccount, IdentityCenterUser, …).
    Other {
        identity_type: String,
        arn: Option<String>,
    },
}

impl Principal {
    /// The one name a person would use for this principal.
    pub fn display_arn(&self) -> &str {
        match self {
            Self::IamUser { arn, .. }
            | Self::AssumedRole { arn, .. }
            | Self::Root { arn, .. }
            | Self::FederatedUser { arn, .. } => arn,
            Self::AwsService { invoked_by } => invoked_by,
            Self::Other { arn, identity_type } => arn.as_deref().unwrap_or(identity_type),
        }
    }

    /// Every ARN this principal can be known by (a session and the role behind it).
    pub fn arns(&self) -> Vec<&str> {
        let mut arns = vec![self.display_arn()];
        match self {
            Self::AssumedRole {
                role_arn: Some(r), ..
            } => arns.push(r),
            Self::FederatedUser {
                issuer_arn: Some(r),
                ..
            } => arns.push(r),
            _ => {}
        }
        arns
    }

    pub(super) fn decode(u: Fields<'_>) -> Result<Self, EventError> {
        let identity_type = u.str("type")?;
        let context_path = u.child_path("sessionContext");
        let context = || u.opt_obj("sessionContext", &context_path);
        let account = || u.str("accountId").map(str::to_owned);
        Ok(match identity_type {
            "IAMUser" => Self::IamUser {
                arn: u.str("arn")?.to_owned(),
                user_name: u.str("userName")?.to_owned(),
                account: account()?,
                access_key_id: u.opt_str("accessKeyId")?.map(str::to_owned),
            },
            "AssumedRole" => {
                let session = SessionContext::read(context()?.as_ref())?;
                Self::AssumedRole {
                    arn: u.str("arn")?.to_owned(),
                    principal_id: u.str("principalId")?.to_owned(),
                    account: account()?,
                    role_arn: session.issuer_arn,
                    access_key_id: u.opt_str("accessKeyId")?.map(str::to_owned),
                    session_created: session.created,
                    ec2_role_delivery: session.ec2_role_delivery,
                }
            }
            "Root" => Self::Root {
                arn: u.str("arn")?.to_owned(),
                account: account()?,
            },
            "FederatedUser" => Self::FederatedUser {
                arn: u.str("arn")?.to_owned(),
                principal_id: u.str("principalId")?.to_owned(),
                account: account()?,
                issuer_arn: SessionContext::issuer_arn(context()?.as_ref())?,
            },
            "AWSService" => Self::AwsService {
                invoked_by: u.str("invokedBy")?.to_owned(),
            },
            other => Self::Other {
                identity_type: other.to_owned(),
                arn: u.opt_str("arn")?.map(str::to_owned),
            },
        })
    }
}

/// What a role session's `sessionContext` says: who issued it, when, and for an instance
/// profile's credentials, how they were delivered. `None` where CloudTrail wrote nothing.
#[derive(Default)]
struct SessionContext {
    issuer_arn: Option<String>,
    created: Option<String>,
    ec2_role_delivery: Option<String>,
}

impl SessionContext {
    fn read(context: Option<&Fields<'_>>) -> Result<Self, EventError> {
        let Some(ctx) = context else {
            return Ok(Self::default());
        };
        let path = ctx.child_path("attributes");
        let created = match ctx.opt_obj("attributes", &path)? {
            Some(attributes) => attributes.opt_str("creationDate")?.map(str::to_owned),
            None => None,
        };
        Ok(Self {
            issuer_arn: Self::issuer_arn(Some(ctx))?,
            created,
            ec2_role_delivery: ctx.opt_str("ec2RoleDelivery")?.map(str::to_owned),
        })
    }

    fn issuer_arn(context: Option<&Fields<'_>>) -> Result<Option<String>, EventError> {
        let Some(ctx) = context else {
            return Ok(None);
        };
        let path = ctx.child_path("sessionIssuer");
        match ctx.opt_obj("sessionIssuer", &path)? {
            Some(issuer) => Ok(issuer.opt_str("arn")?.map(str::to_owned)),
            None => Ok(None),
        }
    }
}
