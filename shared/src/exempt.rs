//! Exemptions: who and what is never acted on.
//!
//! Three sources: principals on the protected list (ARN globs), resources carrying the exempt
//! tag (checked by each function on the live resource), and the function's own role, whose
//! events are ignored so that a remediation never triggers another one.

use crate::arn::Arn;
use crate::events::Principal;

/// An ARN pattern with `*` (any run of characters, `/` and `:` included) and `?` (one
/// character) as wildcards, matched case-sensitively like IAM's `ArnLike`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArnGlob(String);

impl ArnGlob {
    /// A pattern must look like an ARN; anything else is almost certainly a typo that would
    /// silently protect nobody.
    pub fn parse(pattern: &str) -> Option<Self> {
        (pattern.starts_with("arn:") || pattern == "*").then(|| Self(pattern.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn matches(&self, candidate: &str) -> bool {
        glob_match(self.0.as_bytes(), candidate.as_bytes())
    }
}

/// Iterative wildcard matching with single-star backtracking: linear in practice and never
/// recursive, so a hostile pattern or ARN cannot blow the stack.
fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == b'?' || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

/// The normalised identity of an IAM principal, comparable across the shapes in which STS
/// and CloudTrail name it (an assumed-role session ARN carries no role path, for instance).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentityKey {
    Role { account: String, name: String },
    User { account: String, name: String },
    Root { account: String },
    Other(String),
}

impl IdentityKey {
    /// From the ARN that STS `GetCallerIdentity` returns.
    pub fn from_caller_arn(arn: &str) -> Self {
        let Some(Arn {
            service,
            account,
            resource: res,
            ..
        }) = Arn::parse(arn)
        else {
            return Self::Other(arn.to_owned());
        };
        let account = account.to_owned();
        match (service, res.split_once('/')) {
            ("sts", Some(("assumed-role", rest))) => match rest.split_once('/') {
                Some((role, _session)) => Self::Role {
                    account,
                    name: role.to_owned(),
                },
                None => Self::Other(arn.to_owned()),
            },
            ("iam", Some(("role", path))) => Self::Role {
                account,
                name: last_segment(path).to_owned(),
            },
            ("iam" | "sts", Some(("user", path))) => Self::User {
                account,
                name: last_segment(path).to_owned(),
            },
            ("iam", None) if res == "root" => Self::Root { account },
            _ => Self::Other(arn.to_owned()),
        }
    }

    /// From a CloudTrail `userIdentity`.
    pub fn of(principal: &Principal) -> Self {
        match principal {
            Principal::IamUser { arn, .. } => Self::from_caller_arn(arn),
            Principal::AssumedRole { role_arn, arn, .. } => {
                Self::from_caller_arn(role_arn.as_deref().unwrap_or(arn))
            }
            Principal::Root { account, .. } => Self::Root {
                account: account.clone(),
            },
            other => Self::Other(other.display_arn().to_owned()),
        }
    }
}

fn last_segment(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// What is exempt from remediation, known at cold start.
#[derive(Debug, Clone)]
pub struct Exemptions {
    protected: Vec<ArnGlob>,
    /// This function's role and every other Tourniquet role of the stack.
    own: Vec<IdentityKey>,
}

/// Why a principal is not acted on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrincipalExemption {
    /// The event was caused by one of Tourniquet's own roles: ignore it (no loops, and one
    /// function's repair is never another's offense).
    OwnRole,
    /// The principal matches this protected pattern: tell a human instead.
    Protected(String),
}

impl Exemptions {
    /// `own` are ARNs of Tourniquet's own identities: the caller's as STS reports it, and
    /// the stack's role ARNs.
    pub fn new(protected: Vec<ArnGlob>, own: &[String]) -> Self {
        Self {
            protected,
            own: own
                .iter()
                .map(|a| IdentityKey::from_caller_arn(a))
                .collect(),
        }
    }

    pub fn check(&self, principal: &Principal) -> Option<PrincipalExemption> {
        if self.own.contains(&IdentityKey::of(principal)) {
            return Some(PrincipalExemption::OwnRole);
        }
        principal.arns().into_iter().find_map(|arn| {
            self.protected
                .iter()
                .find(|g| g.matches(arn))
                .map(|g| PrincipalExemption::Protected(g.as_str().to_owned()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn glob(p: &str) -> ArnGlob {
        ArnGlob::parse(p).unwrap()
    }

    #[test]
    fn globs_match_like_arnlike() {
        assert!(
            glob("arn:aws:iam::*:role/Admin*").matches("arn:aws:iam::123456789012:role/AdminOps")
        );
        assert!(!glob("arn:aws:iam::*:role/Admin*").matches("arn:aws:iam::123456789012:role/Ops"));
        assert!(
            glob("arn:aws:iam::12345678901?:user/*").matches("arn:aws:iam::123456789012:user/a/b")
        );
        assert!(glob("*").matches("anything"));
        assert!(glob("arn:*:*").matches("arn:aws:x"));
        assert!(!glob("arn:aws:iam::1:user/bob").matches("arn:aws:iam::1:user/bobby"));
        assert!(ArnGlob::parse("bob").is_none());
        // Pathological backtracking stays fast.
        let long = "a".repeat(5000);
        assert!(!glob("arn:*a*a*a*a*a*b").matches(&format!("arn:{long}")));
    }

    #[test]
    fn caller_arns_normalise() {
        assert_eq!(
            IdentityKey::from_caller_arn("arn:aws:sts::123:assumed-role/tq-isolate/fn-session"),
            IdentityKey::Role {
                account: "123".into(),
                name: "tq-isolate".into()
            }
        );
        assert_eq!(
            IdentityKey::from_caller_arn("arn:aws:iam::123:role/service-role/tq-isolate"),
            IdentityKey::Role {
                account: "123".into(),
                name: "tq-isolate".into()
            }
        );
        assert_eq!(
            IdentityKey::from_caller_arn("arn:aws:sts::123:user/moto"),
            IdentityKey::User {
                account: "123".into(),
                name: "moto".into()
            }
        );
        assert_eq!(
            IdentityKey::from_caller_arn("arn:aws:iam::123:root"),
            IdentityKey::Root {
                account: "123".into()
            }
        );
        assert!(matches!(
            IdentityKey::from_caller_arn("garbage"),
            IdentityKey::Other(_)
        ));
    }

    fn role_session(role: &str) -> Principal {
        Principal::AssumedRole {
            arn: format!("arn:aws:sts::123:assumed-role/{role}/s"),
            principal_id: "AROA:s".into(),
            account: "123".into(),
            role_arn: Some(format!("arn:aws:iam::123:role/path/{role}")),
            access_key_id: None,
            session_created: None,
            ec2_role_delivery: None,
        }
    }

    #[test]
    fn own_role_and_protected_principals() {
        let ex = Exemptions::new(
            vec![glob("arn:aws:iam::*:role/*/Breakglass")],
            &[
                "arn:aws:sts::123:assumed-role/tq-isolate/fn".into(),
                "arn:aws:iam::123:role/tq-heal".into(),
            ],
        );
        assert_eq!(
            ex.check(&role_session("tq-isolate")),
            Some(PrincipalExemption::OwnRole)
        );
        assert_eq!(
            ex.check(&role_session("tq-heal")),
            Some(PrincipalExemption::OwnRole),
            "another Tourniquet function's role is Tourniquet's own too"
        );
        assert_eq!(
            ex.check(&role_session("Breakglass")),
            Some(PrincipalExemption::Protected(
                "arn:aws:iam::*:role/*/Breakglass".into()
            ))
        );
        assert_eq!(ex.check(&role_session("Dev")), None);
        // Same role name in another account is not us.
        let other = Principal::AssumedRole {
            arn: "arn:aws:sts::999:assumed-role/tq-isolate/s".into(),
            principal_id: "x".into(),
            account: "999".into(),
            access_key_id: None,
            session_created: None,
            ec2_role_delivery: None,
            role_arn: Some("arn:aws:iam::999:role/tq-isolate".into()),
        };
        assert_eq!(ex.check(&other), None);
    }
}
