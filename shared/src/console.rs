//! Links into the AWS console, so that the person who reads a notification at 3 a.m. is one
//! click from the resource. One place builds them, for every partition.

use serde::{Deserialize, Serialize};

/// A link a person can click, with what it opens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    pub label: String,
    pub url: String,
}

impl Link {
    fn new(label: impl Into<String>, url: String) -> Self {
        Self {
            label: label.into(),
            url,
        }
    }
}

/// The console's host in a partition; `region` picks the regional console where it has one.
fn host(partition: &str, region: Option<&str>) -> String {
    let domain = match partition {
        "aws-cn" => "console.amazonaws.cn",
        "aws-us-gov" => "console.amazonaws-us-gov.com",
        _ => "console.aws.amazon.com",
    };
    match region {
        Some(r) if !r.is_empty() => format!("https://{r}.{domain}"),
        _ => format!("https://{domain}"),
    }
}

/// Keeps a value from breaking out of the URL fragment it is put in.
fn escape(value: &str) -> String {
    value
        .chars()
        .flat_map(|c| {
            if c.is_ascii_alphanumeric() || "-_.~:/".contains(c) {
                vec![c.to_string()]
            } else {
                let mut buf = [0u8; 4];
                c.encode_utf8(&mut buf)
                    .bytes()
                    .map(|b| format!("%{b:02X}"))
                    .collect()
            }
        })
        .collect()
}

pub fn instance(partition: &str, region: &str, id: &str) -> Link {
    Link::new(
        format!("instance {id}"),
        format!(
            "{}/ec2/home?region={region}#InstanceDetails:instanceId={}",
            host(partition, Some(region)),
            escape(id)
        ),
    )
}

pub fn trail(partition: &str, region: &str, arn: &str) -> Link {
    Link::new(
        "the trail",
        format!(
            "{}/cloudtrailv2/home?region={region}#/trails/{}",
            host(partition, Some(region)),
            escape(arn)
        ),
    )
}

/// CloudTrail's event history of one user name or role session, the first place to look
/// for what a principal did.
pub fn events_by(partition: &str, region: &str, user_name: &str) -> Link {
    Link::new(
        format!("CloudTrail events of {user_name}"),
        format!(
            "{}/cloudtrailv2/home?region={region}#/events?Username={}",
            host(partition, Some(region)),
            escape(user_name)
        ),
    )
}

pub fn iam_user(partition: &str, name: &str) -> Link {
    Link::new(
        format!("IAM user {name}"),
        format!(
            "{}/iam/home#/users/details/{}",
            host(partition, None),
            escape(name)
        ),
    )
}

pub fn iam_role(partition: &str, name: &str) -> Link {
    Link::new(
        format!("IAM role {name}"),
        format!(
            "{}/iam/home#/roles/details/{}",
            host(partition, None),
            escape(name)
        ),
    )
}

pub fn instance_profile(partition: &str, name: &str) -> Link {
    Link::new(
        format!("instance profile {name}"),
        format!(
            "{}/iam/home#/roles?search={}",
            host(partition, None),
            escape(name)
        ),
    )
}

pub fn guardduty_finding(partition: &str, region: &str, id: &str) -> Link {
    Link::new(
        format!("GuardDuty finding {id}"),
        format!(
            "{}/guardduty/home?region={region}#/findings?macros=current&fId={}",
            host(partition, Some(region)),
            escape(id)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_follow_the_partition_and_region() {
        assert_eq!(
            instance("aws", "eu-west-1", "i-0abc").url,
            "https://eu-west-1.console.aws.amazon.com/ec2/home?region=eu-west-1#InstanceDetails:instanceId=i-0abc"
        );
        assert!(
            iam_role("aws-cn", "web")
                .url
                .starts_with("https://console.amazonaws.cn/iam/home#/roles/details/web")
        );
        assert!(
            trail("aws-us-gov", "us-gov-west-1", "arn:x")
                .url
                .starts_with("https://us-gov-west-1.console.amazonaws-us-gov.com/")
        );
    }

    #[test]
    fn values_cannot_break_out_of_the_url() {
        let l = events_by("aws", "us-east-1", "a b&c#d<e>");
        assert!(
            l.url.ends_with("Username=a%20b%26c%23d%3Ce%3E"),
            "{}",
            l.url
        );
    }
}
