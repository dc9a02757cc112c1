//! The IAM actions each step of a heal calls; `template.yaml` grants exactly these (and the
//! framework's), which the test below checks.

use tourniquet::permissions::Needs;

pub const PERMISSIONS: &[Needs] = &[
    tourniquet::permissions::MEMBER_ACCESS,
    // The live check: the trail, its status and selectors, its bucket and key; an event data store.
    Needs {
        step: "verify",
        actions: &[
            "cloudtrail:DescribeTrails",
            "cloudtrail:GetTrailStatus",
            "cloudtrail:GetEventSelectors",
            "s3:ListBucket",
            "s3:GetBucketPolicy",
            "s3:GetLifecycleConfiguration",
            "s3:GetBucketVersioning",
            "s3:GetBucketObjectLockConfiguration",
            "kms:DescribeKey",
            "kms:GetKeyPolicy",
            "cloudtrail:GetEventDataStore",
        ],
    },
    Needs {
        step: "audit",
        actions: &[
            "cloudtrail:DescribeTrails",
            "cloudtrail:ListEventDataStores",
        ],
    },
    Needs {
        step: "start-logging",
        actions: &["cloudtrail:StartLogging"],
    },
    // The trail's settings put back, its CloudWatch Logs role passed again.
    Needs {
        step: "update-trail",
        actions: &["cloudtrail:UpdateTrail", "iam:PassRole"],
    },
    Needs {
        step: "event-selectors",
        actions: &["cloudtrail:PutEventSelectors"],
    },
    // A deleted trail made again; an organization trail needs the organization and its service-linked role.
    Needs {
        step: "create-trail",
        actions: &[
            "cloudtrail:CreateTrail",
            "iam:PassRole",
            "organizations:DescribeOrganization",
            "organizations:ListAWSServiceAccessForOrganization",
            "iam:GetRole",
            "iam:CreateServiceLinkedRole",
        ],
    },
    Needs {
        step: "start-ingestion",
        actions: &["cloudtrail:StartEventDataStoreIngestion"],
    },
    Needs {
        step: "restore-store",
        actions: &["cloudtrail:RestoreEventDataStore"],
    },
    Needs {
        step: "recreate-bucket",
        actions: &["s3:CreateBucket"],
    },
    Needs {
        step: "bucket-policy",
        actions: &["s3:PutBucketPolicy"],
    },
    Needs {
        step: "lifecycle",
        actions: &["s3:PutLifecycleConfiguration"],
    },
    Needs {
        step: "versioning",
        actions: &["s3:PutBucketVersioning"],
    },
    Needs {
        step: "retention",
        actions: &["s3:PutBucketObjectLockConfiguration"],
    },
    Needs {
        step: "key-policy",
        actions: &["kms:PutKeyPolicy"],
    },
    Needs {
        step: "enable-key",
        actions: &["kms:EnableKey"],
    },
    Needs {
        step: "cancel-key-deletion",
        actions: &["kms:CancelKeyDeletion"],
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_template_grants_what_the_steps_declare_and_nothing_else() {
        let template = include_str!("../../../template.yaml");
        let checked =
            tourniquet::permissions::check(template, "HealCloudTrailFunction", PERMISSIONS);
        assert_eq!(checked, Ok(()));
    }
}
