//! Where a trail lives and what it is called, read from what an event names.

use serde::{Deserialize, Serialize};

/// Where a trail lives and what it is called.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrailRef {
    pub name: String,
    pub home_region: String,
    pub arn: String,
}

/// An AWS region name: letters, dashes and a final number (`us-east-1`, `us-gov-west-1`).
/// Event data chooses the endpoint a call goes to; anything else is refused.
pub fn is_region(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() >= 3
        && parts.iter().all(|p| !p.is_empty() && p.len() <= 12)
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts
            .last()
            .is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()))
}

impl TrailRef {
    /// Resolves what an event calls a trail: a name (in the region the call was made in,
    /// which for a successful call is the trail's home region) or an ARN (whose region is
    /// the home region).
    pub fn resolve(
        name_or_arn: &str,
        call_region: &str,
        partition: &str,
        account: &str,
    ) -> Option<Self> {
        if let Some(rest) = name_or_arn.strip_prefix("arn:") {
            let mut parts = rest.splitn(5, ':');
            let (_partition, service, region, _account, resource) = (
                parts.next()?,
                parts.next()?,
                parts.next()?,
                parts.next()?,
                parts.next()?,
            );
            let name = resource.strip_prefix("trail/")?;
            if service != "cloudtrail" || !is_region(region) || !is_trail_name(name) {
                return None;
            }
            return Some(Self {
                name: name.to_owned(),
                home_region: region.to_owned(),
                arn: name_or_arn.to_owned(),
            });
        }
        if !is_trail_name(name_or_arn) || !is_region(call_region) {
            return None;
        }
        Some(Self {
            name: name_or_arn.to_owned(),
            home_region: call_region.to_owned(),
            arn: format!("arn:{partition}:cloudtrail:{call_region}:{account}:trail/{name_or_arn}"),
        })
    }
}

/// CloudTrail's rule for trail names: 3 to 128 letters, digits, `.`, `_` and `-`.
pub fn is_trail_name(name: &str) -> bool {
    (3..=128).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}
