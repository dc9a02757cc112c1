//! isolate-instance end to end against the emulator, on a seeded account.
//!
//! Emulator gaps, coded for AWS and noted where they show: moto applies per-interface
//! security groups only under `NetworkInterfaces[].Groups` (read there); it does not
//! deregister ELBv2 targets on an Auto Scaling detach (the function deregisters them itself,
//! as it must for IP targets anyway); it mishandles `ModifyInstanceAttribute` for the
//! shutdown behaviour, so that attribute is not asserted; IAM policies are not enforced, so
//! the role's deny is asserted as a document.

use isolate_instance::{FUNCTION, IsolateConfig, Isolator, STATUS_TAG};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};
use tourniquet::pipeline::{HandleError, handle, handle_until};
use tourniquet::{Outcome, Summary};
use tourniquet_tests::ec2::{launch, tags_of};
use tourniquet_tests::fleet::{self, Fleet};
use tourniquet_tests::{Account, attr, policy_document, raced, sample, tally};

const TAGGER: &str = "arn:aws:sts::123456789012:assumed-role/bastion-role/i-0123456789abcdef0";

struct Setup {
    account: Account,
    fleet: Fleet,
    fw: tourniquet::Framework,
    isolator: Isolator,
}

async fn setup(extra: &[(&str, &str)]) -> Setup {
    let account = Account::new().await;
    let fleet = fleet::seed(&account.sdk).await;
    let fw = account.framework(FUNCTION, extra).await;
    let config = IsolateConfig::from_env(&account.env(extra)).expect("config");
    let isolator = Isolator::new(&fw, config);
    Setup {
        account,
        fleet,
        fw,
        isolator,
    }
}

impl Setup {
    async fn deliver(&self, event: &Value) -> Summary {
        handle(&self.fw, &self.isolator, event, "request-1")
            .await
            .expect("handled")
    }
    async fn status(&self, instance: &str) -> Option<String> {
        tags_of(&self.account.sdk, instance)
            .await
            .get(STATUS_TAG)
            .cloned()
    }
    /// The evidence snapshots Tourniquet took of `instance`.
    async fn snapshots_of(&self, instance: &str) -> Vec<String> {
        let filter = aws_sdk_ec2::types::Filter::builder()
            .name("tag:tourniquet:instance")
            .values(instance)
            .build();
        aws_sdk_ec2::Client::new(&self.account.sdk)
            .describe_snapshots()
            .owner_ids("self")
            .filters(filter)
            .send()
            .await
            .expect("describe snapshots")
            .snapshots()
            .iter()
            .filter_map(|s| s.snapshot_id().map(str::to_owned))
            .collect()
    }
    /// The quarantine group in the fleet's VPC (a sweep makes one in every VPC).
    async fn quarantine_group(&self) -> String {
        let groups =
            fleet::groups_named_in(&self.account.sdk, "tourniquet-quarantine", &self.fleet.vpc)
                .await;
        assert_eq!(
            groups.len(),
            1,
            "one quarantine group in the VPC: {groups:?}"
        );
        groups[0].clone()
    }
}

/// The sample CreateTags event, naming `instances`, with its own event id.
fn create_tags(id: &str, instances: &[String]) -> Value {
    let mut v = sample("isolate-instance/create-tags.json");
    v["id"] = json!(id);
    v["detail"]["requestParameters"]["resourcesSet"]["items"] = json!(
        instances
            .iter()
            .map(|i| json!({"resourceId": i}))
            .collect::<Vec<_>>()
    );
    v
}

fn steps(summary: &Summary, instance: &str) -> Vec<tourniquet::Step> {
    match summary.outcome_of(instance) {
        Some(Outcome::Remediated { steps } | Outcome::Partial { steps }) => steps.clone(),
        other => panic!("{instance} was not acted on: {other:?}"),
    }
}

fn step_ok(steps: &[tourniquet::Step], prefix: &str) -> bool {
    steps.iter().any(|s| s.ok && s.name.starts_with(prefix))
}

#[tokio::test]
async fn asg_member_leaves_the_fleet_and_is_quarantined() {
    let s = setup(&[]).await;
    let chat = s.account.chat_channel().await;
    let sdk = &s.account.sdk;
    let victim = s.fleet.web[0].clone();
    fleet::taint(sdk, std::slice::from_ref(&victim), "Tainted").await;
    assert!(
        fleet::classic_members(sdk, &s.fleet.classic_elb)
            .await
            .contains(&victim)
    );
    assert!(
        fleet::targets(sdk, &s.fleet.target_group)
            .await
            .contains(&victim)
    );

    let summary = s
        .deliver(&create_tags("ev-asg", std::slice::from_ref(&victim)))
        .await;
    let done = steps(&summary, &victim);
    assert!(
        matches!(
            summary.outcome_of(&victim),
            Some(Outcome::Remediated { .. })
        ),
        "{done:?}"
    );

    // Out of the group, which keeps its capacity and launches a replacement.
    let members = fleet::asg_members(sdk, &s.fleet.asg).await;
    assert!(!members.contains(&victim), "{members:?}");
    assert_eq!(members.len(), 3, "a replacement was launched");
    assert_eq!(fleet::desired_capacity(sdk, &s.fleet.asg).await, 3);
    // Out of both load balancers.
    assert!(
        !fleet::targets(sdk, &s.fleet.target_group)
            .await
            .contains(&victim)
    );
    assert!(
        !fleet::classic_members(sdk, &s.fleet.classic_elb)
            .await
            .contains(&victim)
    );
    // Quarantined: its interface is in the quarantine group only, after passing allow-all.
    let quarantine = s.quarantine_group().await;
    for eni in fleet::interfaces(sdk, &victim).await {
        assert_eq!(
            fleet::interface_groups(sdk, &eni).await,
            vec![quarantine.clone()]
        );
        assert!(step_ok(&done, &format!("allow-all {eni}")));
        assert!(step_ok(&done, &format!("quarantine {eni}")));
    }
    assert_eq!(s.status(&victim).await.as_deref(), Some("quarantined"));
    // The other web instances are untouched.
    for other in &s.fleet.web[1..] {
        assert_eq!(s.status(other).await, None);
    }

    // One WARNING notification naming the instance, the tagger, what was done, the evidence
    // kept and how to release it: containment starts an investigation.
    let notes = s.account.notifications().await;
    assert_eq!(notes.len(), 1, "{notes:?}");
    let n = &notes[0];
    assert_eq!(n.severity(), "WARNING");
    assert_eq!(n.attr("function"), FUNCTION);
    assert_eq!(n.attr("action"), "isolate");
    assert_eq!(n.attr("resource"), victim);
    assert_eq!(
        n.subject,
        format!("[WARNING] isolate-instance: isolated {victim}")
    );
    assert!(n.subject.len() < 100);
    assert!(n.message.contains(TAGGER), "{}", n.message);
    assert!(n.message.contains("asg-detach: ok"), "{}", n.message);
    let snapshots = s.snapshots_of(&victim).await;
    assert!(!snapshots.is_empty());
    let (_, next_steps) = n.message.split_once("NEXT STEPS\n").expect("next steps");
    for snap in &snapshots {
        assert!(next_steps.contains(snap), "{snap} not in {next_steps}");
    }
    assert!(next_steps.contains(&format!("INCIDENT#{victim}")));
    let (_, release) = n
        .message
        .split_once("To release (undo)")
        .expect("release steps");
    assert!(
        release.contains("--no-disable-api-termination"),
        "{release}"
    );
    assert!(release.contains("aws ec2 modify-network-interface-attribute"));
    assert!(
        n.message
            .contains(&format!("#InstanceDetails:instanceId={victim}"))
    );

    // The same publish reaches chat as an AWS Chatbot custom notification, in its thread.
    let posts = chat.messages();
    assert_eq!(posts.len(), 1, "{posts:?}");
    let post = &posts[0];
    assert_eq!(post["version"], "1.0");
    assert_eq!(post["source"], "custom");
    let title = post["content"]["title"].as_str().unwrap_or("");
    assert!(title.ends_with(&n.subject), "{title}");
    assert!(title.chars().count() <= tourniquet::notify::CHAT_TITLE_MAX);
    let steps = post["content"]["nextSteps"].to_string();
    assert!(steps.contains(&snapshots[0]), "{steps}");
    assert_eq!(post["metadata"]["relatedResources"][0], victim.as_str());
    let thread = post["metadata"]["threadId"].as_str().unwrap_or("");
    assert!(thread.starts_with("tourniquet-"), "{thread}");
    assert_eq!(n.facts()["facts"]["actor"], TAGGER);
}

#[tokio::test]
async fn standalone_bastion_is_cut_off_on_every_interface() {
    let s = setup(&[]).await;
    let sdk = &s.account.sdk;
    let bastion = s.fleet.bastion.clone();
    fleet::taint(sdk, std::slice::from_ref(&bastion), "Tainted").await;
    assert!(
        fleet::targets(sdk, &s.fleet.ip_target_group)
            .await
            .contains(&s.fleet.bastion_ip)
    );

    let mut event = sample("isolate-instance/tag-change.json");
    event["resources"] = json!([format!(
        "arn:aws:ec2:us-east-1:123456789012:instance/{bastion}"
    )]);
    let summary = s.deliver(&event).await;
    let done = steps(&summary, &bastion);
    assert!(
        matches!(
            summary.outcome_of(&bastion),
            Some(Outcome::Remediated { .. })
        ),
        "{done:?}"
    );

    // Both interfaces end in quarantine, having passed through allow-all.
    let quarantine = s.quarantine_group().await;
    assert_eq!(fleet::interfaces(sdk, &bastion).await, s.fleet.bastion_enis);
    for eni in &s.fleet.bastion_enis {
        assert_eq!(
            fleet::interface_groups(sdk, eni).await,
            vec![quarantine.clone()]
        );
        assert!(step_ok(&done, &format!("allow-all {eni}")), "{done:?}");
    }
    let allow_all = fleet::groups_named(sdk, "tourniquet-quarantine-allow-all").await;
    assert_eq!(allow_all.len(), 1);
    assert!(
        allow_all[0].1 >= 1 && allow_all[0].2 >= 1,
        "allow-all allows all: {allow_all:?}"
    );
    // Deregistered by IP.
    assert!(
        !fleet::targets(sdk, &s.fleet.ip_target_group)
            .await
            .contains(&s.fleet.bastion_ip)
    );

    // Evidence: both volumes snapshotted and tagged, kept on termination, protection on.
    let ec2 = aws_sdk_ec2::Client::new(sdk);
    let snapshots = ec2
        .describe_snapshots()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("tag:tourniquet:instance")
                .values(&bastion)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let snaps = snapshots.snapshots();
    assert_eq!(snaps.len(), 2, "{snaps:?}");
    for snap in snaps {
        let tags: Vec<(&str, &str)> = snap
            .tags()
            .iter()
            .map(|t| (t.key().unwrap_or(""), t.value().unwrap_or("")))
            .collect();
        // The incident's id, which `tourniquet show` takes: opened, delivery, resource hash.
        let incident = tags
            .iter()
            .find(|(k, _)| *k == "tourniquet:incident")
            .map(|(_, v)| *v)
            .unwrap_or_default();
        assert!(
            incident.contains("#d4e5f6a7-b8c9-4d0e-8f1a-2b3c4d5e6f70#"),
            "{tags:?}"
        );
    }
    let protection = ec2
        .describe_instance_attribute()
        .instance_id(&bastion)
        .attribute(aws_sdk_ec2::types::InstanceAttributeName::DisableApiTermination)
        .send()
        .await
        .unwrap();
    assert_eq!(
        protection.disable_api_termination().and_then(|a| a.value()),
        Some(true)
    );
    let described = ec2
        .describe_instances()
        .instance_ids(&bastion)
        .send()
        .await
        .unwrap();
    let mappings: Vec<_> = described
        .reservations()
        .iter()
        .flat_map(|r| r.instances())
        .flat_map(|i| i.block_device_mappings())
        .collect();
    assert_eq!(mappings.len(), 2);
    assert!(
        mappings
            .iter()
            .all(|m| m.ebs().and_then(|e| e.delete_on_termination()) == Some(false))
    );

    // The role carries a deny for this instance's sessions only.
    let iam = aws_sdk_iam::Client::new(sdk);
    let policy = iam
        .get_role_policy()
        .role_name(&s.fleet.bastion_role)
        .policy_name("tourniquet-isolate")
        .send()
        .await
        .expect("deny policy on the role");
    let document: Value = policy_document(policy.policy_document());
    let statement = &document["Statement"][0];
    assert_eq!(statement["Effect"], "Deny");
    assert_eq!(statement["Action"], "*");
    assert_eq!(
        statement["Condition"]["StringEquals"]["ec2:SourceInstanceARN"],
        json!([format!(
            "arn:aws:ec2:us-east-1:123456789012:instance/{bastion}"
        )])
    );
    let attached = iam
        .list_attached_role_policies()
        .role_name(&s.fleet.bastion_role)
        .send()
        .await
        .unwrap();
    assert!(
        attached.attached_policies().is_empty(),
        "no managed policy touched"
    );

    // History holds the state before: each interface's original groups, the profile.
    let incidents = s.account.history_with(&format!("INCIDENT#{bastion}")).await;
    assert_eq!(incidents.len(), 1);
    assert_eq!(attr(&incidents[0], "status"), "remediated");
    let before: Value = serde_json::from_str(attr(&incidents[0], "before")).unwrap();
    assert_eq!(
        before["instance_profile_arn"],
        s.fleet.bastion_profile_arn.as_str()
    );
    let original: Vec<&Value> = before["interfaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| &i["groups"])
        .collect();
    assert_eq!(original, vec![&json!([s.fleet.bastion_group]); 2]);
    assert_eq!(s.status(&bastion).await.as_deref(), Some("quarantined"));
    let notes = s.account.notifications().await;
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].severity(), "WARNING");
}

#[tokio::test]
async fn quarantine_group_has_no_rules_and_is_reused_by_the_next_incident() {
    let s = setup(&[]).await;
    let sdk = &s.account.sdk;
    for (i, victim) in s.fleet.web[..2].iter().enumerate() {
        fleet::taint(sdk, std::slice::from_ref(victim), "Tainted").await;
        let summary = s
            .deliver(&create_tags(
                &format!("ev-{i}"),
                std::slice::from_ref(victim),
            ))
            .await;
        assert!(matches!(
            summary.outcome_of(victim),
            Some(Outcome::Remediated { .. })
        ));
    }
    let groups = fleet::groups_named(sdk, "tourniquet-quarantine").await;
    assert_eq!(groups.len(), 1, "reused, not created twice: {groups:?}");
    let (id, inbound, outbound) = &groups[0];
    assert_eq!(
        (*inbound, *outbound),
        (0, 0),
        "no inbound and no outbound rules"
    );
    for victim in &s.fleet.web[..2] {
        for eni in fleet::interfaces(sdk, victim).await {
            assert_eq!(&fleet::interface_groups(sdk, &eni).await, &vec![id.clone()]);
        }
    }
}

#[tokio::test]
async fn redelivery_acts_once_and_a_quarantined_instance_is_a_no_op() {
    let s = setup(&[]).await;
    let victim = s.fleet.web[0].clone();
    fleet::taint(&s.account.sdk, std::slice::from_ref(&victim), "Tainted").await;
    let event = create_tags("ev-redelivered", std::slice::from_ref(&victim));
    let summaries = raced(3, || handle(&s.fw, &s.isolator, &event, "request-1")).await;
    assert_eq!(
        tally(&summaries),
        BTreeMap::from([("duplicate", 2), ("remediated", 1)])
    );
    assert_eq!(
        s.account
            .history_with(&format!("INCIDENT#{victim}"))
            .await
            .len(),
        1
    );
    assert_eq!(s.account.notifications().await.len(), 1);

    // The aws.tag event for the same tagging arrives too: already quarantined, says so.
    let mut tag_event = sample("isolate-instance/tag-change.json");
    tag_event["resources"] = json!([format!(
        "arn:aws:ec2:us-east-1:123456789012:instance/{victim}"
    )]);
    let summary = s.deliver(&tag_event).await;
    let Some(Outcome::AlreadyRemediated { reason }) = summary.outcome_of(&victim) else {
        panic!("{summary:?}")
    };
    assert!(reason.contains("already quarantined"), "{reason}");
    assert!(s.account.notifications().await.is_empty());
}

/// A `DeleteTags` of the taint on `instance`, by the instance's own role session (the
/// attacker on the box).
fn delete_tags(id: &str, instance: &str) -> Value {
    let mut v = sample("isolate-instance/delete-tags.json");
    v["id"] = json!(id);
    v["detail"]["requestParameters"]["resourcesSet"]["items"] = json!([{"resourceId": instance}]);
    v
}

#[tokio::test]
async fn a_taint_removed_before_isolation_names_who_removed_it_and_a_release_is_quiet() {
    let s = setup(&[]).await;
    let sdk = &s.account.sdk;
    let web = s.fleet.web.clone();
    // Tainted, and the taint taken off before the function acted: the DeleteTags call names
    // who did it.
    let summary = s.deliver(&delete_tags("ev-untaint", &web[0])).await;
    assert!(
        matches!(summary.outcome_of(&web[0]), Some(Outcome::Noticed { .. })),
        "{summary:?}"
    );
    let notes = s.account.notifications().await;
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(notes[0].severity(), "WARNING");
    assert!(
        notes[0].subject.contains("taint removed"),
        "{}",
        notes[0].subject
    );
    assert!(
        notes[0]
            .message
            .contains("arn:aws:sts::123456789012:assumed-role/bastion-role/i-0123456789abcdef0"),
        "{}",
        notes[0].message
    );
    // Isolated, then released: the taint comes off after the incident, and nobody is paged.
    fleet::taint(sdk, &web[1..2], "Tainted").await;
    let summary = s.deliver(&create_tags("ev-taint", &web[1..2])).await;
    assert!(
        matches!(
            summary.outcome_of(&web[1]),
            Some(Outcome::Remediated { .. })
        ),
        "{summary:?}"
    );
    s.account.notifications().await;
    aws_sdk_ec2::Client::new(sdk)
        .delete_tags()
        .resources(&web[1])
        .tags(aws_sdk_ec2::types::Tag::builder().key("Tainted").build())
        .send()
        .await
        .unwrap();
    let summary = s.deliver(&delete_tags("ev-release", &web[1])).await;
    assert!(
        matches!(summary.outcome_of(&web[1]), Some(Outcome::NothingToDo { reason }) if reason.contains("a release")),
        "{summary:?}"
    );
    assert!(s.account.notifications().await.is_empty());
    // A DeleteTags of other keys asks nothing.
    let mut other = delete_tags("ev-other", &web[2]);
    other["detail"]["requestParameters"]["tagSet"]["items"] = json!([{"key": "Owner"}]);
    let summary = s.deliver(&other).await;
    assert!(summary.cases.is_empty(), "{summary:?}");
}

#[tokio::test]
async fn events_that_ask_for_nothing_change_nothing() {
    let s = setup(&[]).await;
    let sdk = &s.account.sdk;
    let web = s.fleet.web.clone();

    // A CreateTags call that failed.
    let mut failed = sample("isolate-instance/create-tags-failed.json");
    failed["detail"]["requestParameters"]["resourcesSet"]["items"] =
        json!([{"resourceId": web[0]}]);
    let summary = s.deliver(&failed).await;
    assert!(
        summary.ignored.as_deref().unwrap_or("").contains("failed"),
        "{summary:?}"
    );
    // Only volumes and groups tagged.
    let summary = s
        .deliver(&sample("isolate-instance/create-tags-not-instances.json"))
        .await;
    assert!(
        summary
            .ignored
            .as_deref()
            .unwrap_or("")
            .contains("no instance"),
        "{summary:?}"
    );
    // The tag was removed before the function ran: nothing done, a person told.
    let summary = s.deliver(&create_tags("ev-untagged", &web[..1])).await;
    assert!(
        matches!(summary.outcome_of(&web[0]), Some(Outcome::Noticed { detail }) if detail.contains("no longer carries")),
        "{summary:?}"
    );
    let removed = s.account.notifications().await;
    assert_eq!(removed.len(), 1);
    assert_eq!(removed[0].severity(), "WARNING");
    assert!(
        removed[0].subject.contains("taint removed"),
        "{}",
        removed[0].subject
    );
    // A terminated instance.
    let gone = launch(sdk, 1, &[("Tainted", "x")]).await.remove(0);
    aws_sdk_ec2::Client::new(sdk)
        .terminate_instances()
        .instance_ids(&gone)
        .send()
        .await
        .unwrap();
    let summary = s
        .deliver(&create_tags("ev-gone", std::slice::from_ref(&gone)))
        .await;
    assert!(
        matches!(summary.outcome_of(&gone), Some(Outcome::NothingToDo { reason }) if reason.contains("terminated")),
        "{summary:?}"
    );
    // An exempt instance: nothing changed, a human told.
    let exempt = web[1].clone();
    aws_sdk_ec2::Client::new(sdk)
        .create_tags()
        .resources(&exempt)
        .tags(tourniquet_tests::ec2::tag(
            "TourniquetExempt",
            "forensics workstation",
        ))
        .tags(tourniquet_tests::ec2::tag("Tainted", "x"))
        .send()
        .await
        .unwrap();
    let summary = s
        .deliver(&create_tags("ev-exempt", std::slice::from_ref(&exempt)))
        .await;
    assert!(
        matches!(summary.outcome_of(&exempt), Some(Outcome::Exempt { .. })),
        "{summary:?}"
    );

    let notes = s.account.notifications().await;
    assert_eq!(
        notes.len(),
        1,
        "only the exempt instance is reported: {notes:?}"
    );
    assert_eq!(notes[0].severity(), "CRITICAL");
    assert_eq!(notes[0].attr("resource"), exempt);
    assert!(
        notes[0]
            .message
            .contains("TourniquetExempt=forensics workstation")
    );
    assert_eq!(fleet::asg_members(sdk, &s.fleet.asg).await.len(), 3);
    for w in &web {
        assert_eq!(s.status(w).await, None);
        assert!(fleet::targets(sdk, &s.fleet.target_group).await.contains(w));
    }
    assert!(
        fleet::groups_named(sdk, "tourniquet-quarantine")
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn safeguard_isolates_three_of_five_and_escalates_the_rest() {
    let s = setup(&[("ISOLATION_LIMIT", "3")]).await;
    let sdk = &s.account.sdk;
    let victims = launch(sdk, 5, &[("Tainted", "mass tagging")]).await;
    let summary = s.deliver(&create_tags("ev-storm", &victims)).await;
    let mut isolated = 0;
    for v in &victims {
        match summary.outcome_of(v) {
            Some(Outcome::Remediated { .. }) => {
                isolated += 1;
                assert_eq!(s.status(v).await.as_deref(), Some("quarantined"));
            }
            Some(Outcome::Held { reason }) => {
                assert!(reason.contains("safeguard reached"), "{reason}");
                assert_eq!(s.status(v).await, None, "a held instance is untouched");
            }
            other => panic!("{v}: {other:?}"),
        }
    }
    assert_eq!(isolated, 3);
    let notes = s.account.notifications().await;
    assert_eq!(
        notes.iter().filter(|n| n.severity() == "CRITICAL").count(),
        2
    );
    assert_eq!(
        notes.iter().filter(|n| n.severity() == "WARNING").count(),
        3
    );
}

#[tokio::test]
async fn limit_zero_escalates_every_case() {
    let s = setup(&[("ISOLATION_LIMIT", "0")]).await;
    let victims = launch(&s.account.sdk, 2, &[("Tainted", "x")]).await;
    let summary = s.deliver(&create_tags("ev-zero", &victims)).await;
    for v in &victims {
        assert!(matches!(summary.outcome_of(v), Some(Outcome::Held { .. })));
        assert_eq!(s.status(v).await, None);
    }
    let notes = s.account.notifications().await;
    assert_eq!(notes.len(), 2);
    assert!(
        notes
            .iter()
            .all(|n| n.severity() == "CRITICAL" && n.attr("action") == "held")
    );
}

#[tokio::test]
async fn dry_run_changes_nothing_and_says_what_it_would_do() {
    let s = setup(&[("DRY_RUN", "true")]).await;
    let sdk = &s.account.sdk;
    let victim = s.fleet.web[0].clone();
    fleet::taint(sdk, std::slice::from_ref(&victim), "Tainted").await;
    let enis = fleet::interfaces(sdk, &victim).await;
    let summary = s
        .deliver(&create_tags("ev-dry", std::slice::from_ref(&victim)))
        .await;
    let Some(Outcome::DryRun { plan }) = summary.outcome_of(&victim) else {
        panic!("{summary:?}")
    };
    assert!(
        plan.iter()
            .any(|p| p.contains("detach from Auto Scaling group web")),
        "{plan:?}"
    );
    assert!(
        plan.iter()
            .any(|p| p.contains(&enis[0]) && p.contains("tourniquet-quarantine")),
        "{plan:?}"
    );

    assert!(
        fleet::asg_members(sdk, &s.fleet.asg)
            .await
            .contains(&victim)
    );
    assert!(
        fleet::targets(sdk, &s.fleet.target_group)
            .await
            .contains(&victim)
    );
    assert_eq!(
        fleet::interface_groups(sdk, &enis[0]).await,
        vec![s.fleet.web_group.clone()]
    );
    assert!(
        fleet::groups_named(sdk, "tourniquet-quarantine")
            .await
            .is_empty()
    );
    assert_eq!(s.status(&victim).await, None);
    let notes = s.account.notifications().await;
    assert_eq!(notes.len(), 1);
    assert!(notes[0].message.contains("DRY RUN"));
}

#[tokio::test]
async fn a_failing_step_does_not_stop_containment() {
    let s = setup(&[]).await;
    let sdk = &s.account.sdk;
    let victim = s.fleet.bastion.clone();
    fleet::taint(sdk, std::slice::from_ref(&victim), "Tainted").await;
    s.account
        .inject_fault("CreateSnapshot", "UnauthorizedOperation");
    let summary = s
        .deliver(&create_tags("ev-fault", std::slice::from_ref(&victim)))
        .await;
    let Some(Outcome::Partial { steps }) = summary.outcome_of(&victim) else {
        panic!("{summary:?}")
    };
    let failed: Vec<_> = steps.iter().filter(|s| !s.ok).collect();
    assert_eq!(failed.len(), 2, "both snapshots failed: {failed:?}");
    assert!(
        failed
            .iter()
            .all(|s| s.name.starts_with("snapshot ") && s.detail.contains("UnauthorizedOperation"))
    );
    let quarantine = s.quarantine_group().await;
    for eni in &s.fleet.bastion_enis {
        assert_eq!(
            fleet::interface_groups(sdk, eni).await,
            vec![quarantine.clone()]
        );
    }
    assert_eq!(s.status(&victim).await.as_deref(), Some("quarantined"));
    let notes = s.account.notifications().await;
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].severity(), "WARNING");
    assert!(
        notes[0].subject.contains("2 step(s) failed"),
        "{}",
        notes[0].subject
    );
    assert!(notes[0].message.contains("FAILED"));
    let incidents = s.account.history_with(&format!("INCIDENT#{victim}")).await;
    assert_eq!(attr(&incidents[0], "status"), "partial");
}

/// The `aws.tag` event of one tagging, with its own event id.
fn tag_change(id: &str, instance: &str) -> Value {
    let mut v = sample("isolate-instance/tag-change.json");
    v["id"] = json!(id);
    v["resources"] = json!([format!(
        "arn:aws:ec2:us-east-1:123456789012:instance/{instance}"
    )]);
    v
}

/// Snapshots Tourniquet took of an instance's volumes.
async fn evidence_snapshots(sdk: &aws_config::SdkConfig, instance: &str) -> usize {
    aws_sdk_ec2::Client::new(sdk)
        .describe_snapshots()
        .owner_ids("self")
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("tag:tourniquet:instance")
                .values(instance)
                .build(),
        )
        .send()
        .await
        .expect("describe snapshots")
        .snapshots()
        .len()
}

/// The quarantine call of a one-interface instance (the second network-interface change,
/// after allow-all) held `secs` seconds, then failed.
fn stall_quarantine(s: &Setup, secs: u32) {
    s.account.set_faults(json!([{
        "operation": "ModifyNetworkInterfaceAttribute",
        "skip": 1, "times": 1, "stall": secs,
        "code": "RequestLimitExceeded", "status": 503
    }]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn both_triggers_of_one_tagging_make_one_incident() {
    let s = setup(&[("ISOLATION_LIMIT", "2")]).await;
    let sdk = &s.account.sdk;
    let bastion = s.fleet.bastion.clone();
    fleet::taint(sdk, std::slice::from_ref(&bastion), "Tainted").await;
    // Real AWS delivers the CloudTrail event and the aws.tag event of one tagging together.
    let by_trail = create_tags("ev-trail", std::slice::from_ref(&bastion));
    let by_tag = tag_change("ev-tag", &bastion);
    let (trail, tag) = tokio::join!(
        handle(&s.fw, &s.isolator, &by_trail, "r1"),
        handle(&s.fw, &s.isolator, &by_tag, "r2"),
    );
    let summaries = [trail.expect("handled"), tag.expect("handled")];
    assert_eq!(
        tally(&summaries),
        BTreeMap::from([("joined", 1), ("remediated", 1)])
    );
    assert_eq!(
        s.account.history_with("SAFEGUARD#isolate").await.len(),
        1,
        "one slot"
    );
    assert_eq!(
        s.account
            .history_with(&format!("INCIDENT#{bastion}"))
            .await
            .len(),
        1
    );
    assert_eq!(s.account.notifications().await.len(), 1, "one notification");
    assert_eq!(
        evidence_snapshots(sdk, &bastion).await,
        2,
        "one snapshot per volume"
    );
    // The record's state before is the original one, not allow-all.
    let incident = &s.account.history_with(&format!("INCIDENT#{bastion}")).await[0];
    let before: Value = serde_json::from_str(attr(incident, "before")).expect("JSON");
    assert_eq!(
        before["interfaces"][0]["groups"],
        json!([s.fleet.bastion_group]),
        "{before}"
    );
    // With a limit of 2, a second instance still gets a slot.
    let web = s.fleet.web[0].clone();
    fleet::taint(sdk, std::slice::from_ref(&web), "Tainted").await;
    let other = s
        .deliver(&create_tags("ev-web", std::slice::from_ref(&web)))
        .await;
    assert!(
        matches!(other.outcome_of(&web), Some(Outcome::Remediated { .. })),
        "{other:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn out_of_time_in_allow_all_pages_and_the_redelivery_resumes() {
    let s = setup(&[]).await;
    let sdk = &s.account.sdk;
    let victim = s.fleet.web[0].clone();
    let eni = fleet::interfaces(sdk, &victim).await;
    assert_eq!(eni.len(), 1, "a one-interface instance");
    fleet::taint(sdk, std::slice::from_ref(&victim), "Tainted").await;
    let event = create_tags("ev-slow", std::slice::from_ref(&victim));
    stall_quarantine(&s, 8);

    let deadline = SystemTime::now() + Duration::from_secs(4);
    let err = handle_until(&s.fw, &s.isolator, &event, "request-1", Some(deadline))
        .await
        .expect_err("out of time is an error, so that Lambda retries");
    assert!(matches!(err, HandleError::Unfinished(_)), "{err}");
    assert!(SystemTime::now() < deadline, "answered before the deadline");
    let notes = s.account.notifications().await;
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].severity(), "CRITICAL");
    assert!(
        notes[0].subject.contains("NOT finished"),
        "{}",
        notes[0].subject
    );
    assert!(
        notes[0].message.contains(&eni[0]),
        "names the interface's step"
    );
    let allow_all = fleet::groups_named(sdk, "tourniquet-quarantine-allow-all").await;
    assert_eq!(
        fleet::interface_groups(sdk, &eni[0]).await,
        vec![allow_all[0].0.clone()],
        "left in the allow-all group by the dead invocation"
    );

    // Lambda's retry of the same event.
    s.account.set_faults(json!([]));
    let summary = s.deliver(&event).await;
    let case = &summary.cases[0];
    assert!(case.resumed, "{summary:?}");
    assert!(
        matches!(case.outcome, Outcome::Remediated { .. }),
        "{summary:?}"
    );
    assert_eq!(
        fleet::interface_groups(sdk, &eni[0]).await,
        vec![s.quarantine_group().await]
    );
    assert_eq!(s.status(&victim).await.as_deref(), Some("quarantined"));
    let notes = s.account.notifications().await;
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].severity(), "WARNING");
    assert!(notes[0].subject.contains("resumed"), "{}", notes[0].subject);
    assert!(notes[0].message.contains("RESUMED"));
    // The undo restores the groups recorded when the incident opened, not allow-all.
    assert!(
        notes[0].message.contains(&s.fleet.web_group),
        "{}",
        notes[0].message
    );
    assert_eq!(
        s.account.history_with("SAFEGUARD#isolate").await.len(),
        1,
        "its one slot"
    );
    assert_eq!(
        evidence_snapshots(sdk, &victim).await,
        1,
        "one snapshot per volume"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_sweep_resumes_an_incident_whose_invocation_died() {
    let s = setup(&[]).await;
    let sdk = &s.account.sdk;
    let victim = s.fleet.web[1].clone();
    let eni = fleet::interfaces(sdk, &victim).await;
    fleet::taint(sdk, std::slice::from_ref(&victim), "Tainted").await;
    stall_quarantine(&s, 8);
    // The invocation is killed mid-way, with no chance to say anything.
    let event = create_tags("ev-killed", std::slice::from_ref(&victim));
    let killed = tokio::time::timeout(Duration::from_secs(2), s.deliver(&event)).await;
    assert!(killed.is_err(), "the invocation was cut off");
    assert!(
        s.account.notifications().await.is_empty(),
        "it said nothing"
    );
    s.account.set_faults(json!([]));

    // Before its lease runs out, the sweep leaves it alone.
    let sweep = json!({"tourniquet": "sweep"});
    let early = handle(&s.fw, &s.isolator, &sweep, "sweep-1")
        .await
        .expect("swept");
    assert!(early.cases.is_empty(), "{early:?}");

    s.account.expire_lease("isolate", &victim).await;
    let swept = handle(&s.fw, &s.isolator, &sweep, "sweep-2")
        .await
        .expect("swept");
    assert_eq!(swept.cases.len(), 1, "{swept:?}");
    assert!(swept.cases[0].resumed);
    assert!(
        matches!(swept.cases[0].outcome, Outcome::Remediated { .. }),
        "{swept:?}"
    );
    assert_eq!(
        fleet::interface_groups(sdk, &eni[0]).await,
        vec![s.quarantine_group().await]
    );
    let notes = s.account.notifications().await;
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].severity(), "WARNING");
    assert!(notes[0].subject.contains("resumed"));

    // Closed now: the event's late redelivery is a duplicate.
    let late = s.deliver(&event).await;
    assert_eq!(late.outcome_of(&victim), Some(&Outcome::Duplicate));
}

#[tokio::test]
async fn a_forged_status_tag_does_not_stop_isolation() {
    let s = setup(&[]).await;
    let sdk = &s.account.sdk;
    let victim = s.fleet.web[2].clone();
    fleet::taint(sdk, std::slice::from_ref(&victim), "Tainted").await;
    aws_sdk_ec2::Client::new(sdk)
        .create_tags()
        .resources(&victim)
        .tags(tourniquet_tests::ec2::tag(STATUS_TAG, "quarantined"))
        .send()
        .await
        .expect("forge the status tag");
    let summary = s
        .deliver(&create_tags("ev-forged", std::slice::from_ref(&victim)))
        .await;
    assert!(
        matches!(
            summary.outcome_of(&victim),
            Some(Outcome::Remediated { .. })
        ),
        "{summary:?}"
    );
    let eni = fleet::interfaces(sdk, &victim).await;
    assert_eq!(
        fleet::interface_groups(sdk, &eni[0]).await,
        vec![s.quarantine_group().await]
    );
}

/// Opens SSH to the world on a group, as an attacker would.
async fn open_ssh(sdk: &aws_config::SdkConfig, group: &str) {
    aws_sdk_ec2::Client::new(sdk)
        .authorize_security_group_ingress()
        .group_id(group)
        .ip_permissions(
            aws_sdk_ec2::types::IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(22)
                .to_port(22)
                .ip_ranges(
                    aws_sdk_ec2::types::IpRange::builder()
                        .cidr_ip("0.0.0.0/0")
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .expect("open SSH");
}

#[tokio::test]
async fn a_same_named_group_made_by_someone_else_is_never_used() {
    let s = setup(&[]).await;
    let sdk = &s.account.sdk;
    let ec2 = aws_sdk_ec2::Client::new(sdk);
    let impostor = ec2
        .create_security_group()
        .group_name("tourniquet-quarantine")
        .description("Tourniquet quarantine: do not edit")
        .vpc_id(&s.fleet.vpc)
        .send()
        .await
        .expect("impostor group")
        .group_id
        .expect("id");
    open_ssh(sdk, &impostor).await;

    let victim = s.fleet.web[0].clone();
    fleet::taint(sdk, std::slice::from_ref(&victim), "Tainted").await;
    let summary = s
        .deliver(&create_tags("ev-impostor", std::slice::from_ref(&victim)))
        .await;
    let steps = steps(&summary, &victim);
    assert!(
        steps
            .iter()
            .any(|st| st.name == "impostor-group" && st.critical && st.detail.contains(&impostor)),
        "{steps:?}"
    );
    let eni = fleet::interfaces(sdk, &victim).await;
    let groups = fleet::interface_groups(sdk, &eni[0]).await;
    assert_eq!(groups.len(), 1);
    assert_ne!(groups[0], impostor, "the impostor is never used");
    let used = ec2
        .describe_security_groups()
        .group_ids(&groups[0])
        .send()
        .await
        .expect("describe");
    let used = &used.security_groups()[0];
    assert!(used.ip_permissions().is_empty() && used.ip_permissions_egress().is_empty());
    assert!(
        used.group_name()
            .unwrap_or("")
            .starts_with("tourniquet-quarantine-")
    );
    let notes = s.account.notifications().await;
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].severity(), "CRITICAL");
    assert!(notes[0].message.contains(&impostor));
    // The group Tourniquet made is recorded as its own and reused next time.
    let recorded = s.account.history_with("BASELINE#quarantine-groups").await;
    assert_eq!(recorded.len(), 1);
    assert!(attr(&recorded[0], "config").contains(&groups[0]));
}

#[tokio::test]
async fn a_rule_added_to_the_quarantine_group_is_revoked_and_reported() {
    let s = setup(&[]).await;
    let sdk = &s.account.sdk;
    let first = s.fleet.web[0].clone();
    fleet::taint(sdk, std::slice::from_ref(&first), "Tainted").await;
    s.deliver(&create_tags("ev-first", std::slice::from_ref(&first)))
        .await;
    assert!(s.account.notifications().await.len() == 1);
    let quarantine = s.quarantine_group().await;
    // Someone opens every quarantined instance at once.
    open_ssh(sdk, &quarantine).await;

    let second = s.fleet.web[1].clone();
    fleet::taint(sdk, std::slice::from_ref(&second), "Tainted").await;
    let summary = s
        .deliver(&create_tags("ev-second", std::slice::from_ref(&second)))
        .await;
    let steps = steps(&summary, &second);
    assert!(
        steps
            .iter()
            .any(|st| st.name == "quarantine-group-tampered" && st.critical),
        "{steps:?}"
    );
    assert_eq!(
        fleet::groups_named(sdk, "tourniquet-quarantine").await,
        vec![(quarantine.clone(), 0, 0)],
        "the rule is gone"
    );
    let eni = fleet::interfaces(sdk, &second).await;
    assert_eq!(
        fleet::interface_groups(sdk, &eni[0]).await,
        vec![quarantine]
    );
    let notes = s.account.notifications().await;
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].severity(), "CRITICAL");
    assert!(notes[0].message.contains("tampered"));
}

/// The recorded groups of every VPC, from history: vpc → (quarantine, allow-all).
async fn recorded_groups(s: &Setup) -> BTreeMap<String, (String, String)> {
    s.account
        .history_with("BASELINE#quarantine-groups")
        .await
        .iter()
        .filter_map(|item| {
            let vpc = item.get("sk")?.as_s().ok()?.clone();
            let value: Value = serde_json::from_str(item.get("config")?.as_s().ok()?).ok()?;
            Some((
                vpc,
                (
                    value["quarantine"].as_str()?.to_owned(),
                    value["allow_all"].as_str()?.to_owned(),
                ),
            ))
        })
        .collect()
}

#[tokio::test]
async fn the_sweep_prepares_every_vpc_before_its_first_isolation() {
    let s = setup(&[]).await;
    let sdk = &s.account.sdk;
    let sweep = json!({"tourniquet": "sweep"});
    let vpcs: Vec<String> = aws_sdk_ec2::Client::new(sdk)
        .describe_vpcs()
        .send()
        .await
        .expect("describe vpcs")
        .vpcs()
        .iter()
        .filter_map(|v| v.vpc_id().map(str::to_owned))
        .collect();
    assert!(vpcs.contains(&s.fleet.vpc));

    // The first sweep makes and records the two groups in every VPC, the quarantine one
    // rule-less.
    let first = handle(&s.fw, &s.isolator, &sweep, "sweep-1")
        .await
        .expect("swept");
    for vpc in &vpcs {
        assert!(
            first
                .upkeep
                .iter()
                .any(|st| st.ok && st.name == format!("prepare {vpc}")),
            "{vpc}: {:?}",
            first.upkeep
        );
    }
    let recorded = recorded_groups(&s).await;
    assert_eq!(
        recorded.keys().cloned().collect::<Vec<_>>(),
        {
            let mut v = vpcs.clone();
            v.sort();
            v
        },
        "one record per VPC"
    );
    let (quarantine, _) = recorded[&s.fleet.vpc].clone();
    let groups = fleet::groups_named(sdk, "tourniquet-quarantine").await;
    assert_eq!(groups.len(), vpcs.len(), "{groups:?}");
    assert!(groups.contains(&(quarantine.clone(), 0, 0)), "{groups:?}");

    // A second sweep finds them ready: nothing is made, nothing reported.
    let second = handle(&s.fw, &s.isolator, &sweep, "sweep-2")
        .await
        .expect("swept");
    assert!(second.upkeep.is_empty(), "{:?}", second.upkeep);
    assert_eq!(
        fleet::groups_named(sdk, "tourniquet-quarantine")
            .await
            .len(),
        vpcs.len()
    );
    assert!(s.account.notifications().await.is_empty());

    // The first isolation in the VPC uses them: no group is made on its critical path.
    let victim = s.fleet.web[0].clone();
    fleet::taint(sdk, std::slice::from_ref(&victim), "Tainted").await;
    let summary = s
        .deliver(&create_tags("ev-first", std::slice::from_ref(&victim)))
        .await;
    assert!(matches!(
        summary.outcome_of(&victim),
        Some(Outcome::Remediated { .. })
    ));
    for eni in fleet::interfaces(sdk, &victim).await {
        assert_eq!(
            fleet::interface_groups(sdk, &eni).await,
            vec![quarantine.clone()]
        );
    }
    assert_eq!(
        recorded_groups(&s).await,
        recorded,
        "the records are unchanged"
    );
    assert_eq!(
        fleet::groups_named(sdk, "tourniquet-quarantine")
            .await
            .len(),
        vpcs.len()
    );
    s.account.notifications().await;

    // A rule added to a quarantine group between incidents is found by the next sweep,
    // revoked, and wakes a human once.
    open_ssh(sdk, &quarantine).await;
    let third = handle(&s.fw, &s.isolator, &sweep, "sweep-3")
        .await
        .expect("swept");
    assert!(
        third
            .upkeep
            .iter()
            .any(|st| st.name == "quarantine-group-tampered" && st.critical),
        "{:?}",
        third.upkeep
    );
    assert!(
        fleet::groups_named(sdk, "tourniquet-quarantine")
            .await
            .contains(&(quarantine.clone(), 0, 0)),
        "the rule is gone"
    );
    let notes = s.account.notifications().await;
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(notes[0].severity(), "CRITICAL");
    assert_eq!(notes[0].attr("action"), "upkeep");
    assert!(
        notes[0].message.contains(&quarantine),
        "{}",
        notes[0].message
    );
}

/// The sample GuardDuty finding, about `instance`, with its own event id.
fn guardduty(file: &str, id: &str, instance: &str) -> Value {
    let mut v = sample(&format!("isolate-instance/{file}"));
    v["id"] = json!(id);
    v["detail"]["resource"]["instanceDetails"]["instanceId"] = json!(instance);
    v
}

/// GuardDuty's answer to GetFindings for the sample finding, about `instance`. Emulator gap:
/// moto has no findings, so its wrapper answers GetFindings (with none unless told).
fn guardduty_has(s: &Setup, instance: &str, archived: bool) {
    let event = sample("isolate-instance/guardduty-finding.json");
    let d = &event["detail"];
    s.account.set_faults(json!([{
        "operation": "GetFindings",
        "answer": {"findings": [{
            "accountId": "123456789012", "region": "us-east-1", "partition": "aws",
            "arn": format!("arn:aws:guardduty:us-east-1:123456789012:detector/{}/finding/{}",
                           d["service"]["detectorId"].as_str().unwrap(), d["id"].as_str().unwrap()),
            "id": d["id"], "type": d["type"], "severity": d["severity"],
            "schemaVersion": "2.0", "createdAt": "2026-11-23T03:00:00.000Z",
            "updatedAt": "2026-11-23T03:00:00.000Z", "title": d["title"],
            "resource": {"resourceType": "Instance", "instanceDetails": {"instanceId": instance}},
            "service": {"serviceName": "guardduty", "detectorId": d["service"]["detectorId"],
                        "archived": archived, "count": 1},
        }]},
    }]));
}

#[tokio::test]
async fn a_high_severity_guardduty_finding_isolates_its_instance_and_a_sample_does_not() {
    let s = setup(&[]).await;
    let sdk = &s.account.sdk;
    let (victim, bystander) = (s.fleet.web[0].clone(), s.fleet.web[1].clone());

    // GuardDuty's "generate sample findings" names real instances: nothing happens.
    let sampled = s
        .deliver(&guardduty(
            "guardduty-sample-finding.json",
            "ev-sample",
            &bystander,
        ))
        .await;
    assert!(
        sampled
            .ignored
            .as_deref()
            .is_some_and(|r| r.contains("sample")),
        "{sampled:?}"
    );
    let low = s
        .deliver(&guardduty(
            "guardduty-low-severity.json",
            "ev-low",
            &bystander,
        ))
        .await;
    assert!(
        low.ignored.as_deref().is_some_and(|r| r.contains("below")),
        "{low:?}"
    );
    assert_eq!(s.status(&bystander).await, None);

    guardduty_has(&s, &victim, false);
    let summary = s
        .deliver(&guardduty("guardduty-finding.json", "ev-finding", &victim))
        .await;
    assert!(
        matches!(
            summary.outcome_of(&victim),
            Some(Outcome::Remediated { .. })
        ),
        "{summary:?}"
    );
    let quarantine = s.quarantine_group().await;
    for eni in fleet::interfaces(sdk, &victim).await {
        assert_eq!(
            fleet::interface_groups(sdk, &eni).await,
            vec![quarantine.clone()]
        );
    }
    let notes = s.account.notifications().await;
    assert_eq!(notes.len(), 1, "{notes:?}");
    let n = &notes[0];
    assert_eq!(n.severity(), "WARNING");
    for fact in [
        "Backdoor:EC2/C&CActivity.B!DNS",
        "8ec6a1e2f4b54a0e9d1c3b7a5f2e6d90",
        "severity 8",
    ] {
        assert!(n.message.contains(fact), "{fact} not in {}", n.message);
    }
    assert!(
        n.message
            .contains("/guardduty/home?region=us-east-1#/findings?macros=current&fId=8ec6a1e2f4b54a0e9d1c3b7a5f2e6d90"),
        "{}",
        n.message
    );

    // GuardDuty sends the finding again when it is updated: nothing more is done.
    let update = s
        .deliver(&guardduty(
            "guardduty-finding.json",
            "ev-finding-update",
            &victim,
        ))
        .await;
    assert!(
        matches!(
            update.outcome_of(&victim),
            Some(Outcome::AlreadyRemediated { .. })
        ),
        "{update:?}"
    );
    assert!(
        s.account.notifications().await.is_empty(),
        "no second notification"
    );
}

#[tokio::test]
async fn instances_sharing_a_role_share_one_deny_policy() {
    let s = setup(&[("ISOLATION_LIMIT", "10")]).await;
    let sdk = &s.account.sdk;
    let ec2 = aws_sdk_ec2::Client::new(sdk);
    // One at a time: the emulator gives a profile only to the first of a multi-instance launch.
    let mut workers = Vec::new();
    for _ in 0..5 {
        let launched = ec2
            .run_instances()
            .image_id(tourniquet_tests::ec2::AMI)
            .instance_type(aws_sdk_ec2::types::InstanceType::T3Micro)
            .min_count(1)
            .max_count(1)
            .subnet_id(&s.fleet.subnets[0])
            .iam_instance_profile(
                aws_sdk_ec2::types::IamInstanceProfileSpecification::builder()
                    .arn(&s.fleet.bastion_profile_arn)
                    .build(),
            )
            .send()
            .await
            .expect("launch a worker");
        workers.extend(
            launched
                .instances()
                .iter()
                .filter_map(|i| i.instance_id().map(str::to_owned)),
        );
    }
    assert_eq!(workers.len(), 5);
    fleet::taint(sdk, &workers, "Tainted").await;

    // One event naming all five: their cases run at once, each adding to the role's policy.
    let summary = s.deliver(&create_tags("ev-workers", &workers)).await;
    for w in &workers {
        assert!(
            step_ok(&steps(&summary, w), "role-deny"),
            "{w}: {summary:?}"
        );
    }
    let iam = aws_sdk_iam::Client::new(sdk);
    let names = iam
        .list_role_policies()
        .role_name(&s.fleet.bastion_role)
        .send()
        .await
        .expect("list role policies");
    assert_eq!(
        names.policy_names(),
        ["tourniquet-isolate"],
        "one policy per role"
    );
    let policy = iam
        .get_role_policy()
        .role_name(&s.fleet.bastion_role)
        .policy_name("tourniquet-isolate")
        .send()
        .await
        .expect("the role's deny policy");
    let document: Value = policy_document(policy.policy_document());
    let mut listed: Vec<String> =
        document["Statement"][0]["Condition"]["StringEquals"]["ec2:SourceInstanceARN"]
            .as_array()
            .expect("a list of instances")
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect();
    listed.sort();
    let mut expected: Vec<String> = workers
        .iter()
        .map(|w| format!("arn:aws:ec2:us-east-1:123456789012:instance/{w}"))
        .collect();
    expected.sort();
    assert_eq!(
        listed, expected,
        "no concurrent isolation lost another's instance"
    );
    assert!(
        s.account.history_with("HOLD#").await.is_empty(),
        "every hold was given back"
    );
}

#[tokio::test]
async fn an_event_naming_1000_ids_answers_in_seconds() {
    let s = setup(&[]).await;
    let sdk = &s.account.sdk;
    let real: Vec<String> = s.fleet.web.clone();
    fleet::taint(sdk, &real, "Tainted").await;
    // The three web instances, and 997 ids that name nothing.
    let mut ids = real.clone();
    ids.extend((0..997).map(|i| format!("i-{:017x}", 0xdead_0000_0000_u64 + i)));
    let before = s.account.requests();
    let started = std::time::Instant::now();
    let summary = s.deliver(&create_tags("ev-1000", &ids)).await;
    let took = started.elapsed();
    let made: std::collections::BTreeMap<String, u64> = s
        .account
        .requests()
        .into_iter()
        .map(|(op, n)| (n - before.get(&op).copied().unwrap_or(0), op))
        .filter(|(n, _)| *n > 0)
        .map(|(n, op)| (op, n))
        .collect();
    let requests = made.values().sum::<u64>();
    println!("1000-id event: {requests} requests, {took:?}: {made:?}");
    for r in &real {
        assert!(
            matches!(summary.outcome_of(r), Some(Outcome::Remediated { .. })),
            "{r}: {summary:?}"
        );
    }
    assert_eq!(
        summary.cases.len(),
        3,
        "only the instances that exist are cases"
    );
    assert!(
        summary
            .ignored
            .as_deref()
            .is_some_and(|i| i.starts_with("997 named instance(s) do not exist")),
        "{:?}",
        summary.ignored
    );
    assert!(requests < 300, "{requests} requests");
    // Reading the 1000 ids: one DescribeInstances per 200, one DescribeAutoScalingInstances
    // for the instances found; the rest is isolating the three.
    assert_eq!(made.get("DescribeInstances"), Some(&5));
    assert_eq!(made.get("DescribeAutoScalingInstances"), Some(&1));
    assert!(took < Duration::from_secs(30), "{took:?}");
    assert!(
        s.account.history_with("LOCK#isolate").await.len() == 3,
        "no lock for an instance that does not exist"
    );
}

#[tokio::test]
async fn fifty_tainted_with_a_limit_of_three_make_three_isolations_and_one_summary() {
    let s = setup(&[]).await;
    let sdk = &s.account.sdk;
    let many = launch(sdk, 50, &[]).await;
    fleet::taint(sdk, &many, "Tainted").await;
    let before = s.account.requests();
    let summary = s.deliver(&create_tags("ev-fifty", &many)).await;
    let after = s.account.requests();
    let made = |op: &str| after.get(op).unwrap_or(&0) - before.get(op).unwrap_or(&0);
    // The event's instances are read in one round, not once each.
    println!(
        "fifty-instance event: DescribeInstances {}, DescribeAutoScalingInstances {}, DescribeSecurityGroups {}, DescribeInstanceAttribute {}",
        made("DescribeInstances"),
        made("DescribeAutoScalingInstances"),
        made("DescribeSecurityGroups"),
        made("DescribeInstanceAttribute"),
    );
    assert_eq!(made("DescribeInstances"), 1);
    assert_eq!(made("DescribeAutoScalingInstances"), 1);
    assert!(
        made("DescribeInstanceAttribute") <= 6,
        "attributes are read for the isolated instances only, beside the cut"
    );
    let isolated = summary
        .cases
        .iter()
        .filter(|c| matches!(c.outcome, Outcome::Remediated { .. }))
        .count();
    let held = summary
        .cases
        .iter()
        .filter(|c| matches!(c.outcome, Outcome::Held { .. }))
        .count();
    assert_eq!((isolated, held), (3, 47), "{summary:?}");
    let notes = s.account.notifications().await;
    let critical: Vec<_> = notes
        .iter()
        .filter(|n| n.severity() == "CRITICAL")
        .collect();
    assert_eq!(
        critical.len(),
        1,
        "one summary for the held cases: {notes:?}"
    );
    assert_eq!(critical[0].attr("action"), "held");
    assert!(
        critical[0].subject.contains("held 47 cases"),
        "{}",
        critical[0].subject
    );
    let held_ids: Vec<&str> = summary
        .cases
        .iter()
        .filter(|c| matches!(c.outcome, Outcome::Held { .. }))
        .map(|c| c.resource.as_str())
        .collect();
    for id in held_ids {
        assert!(critical[0].message.contains(id), "{id} not listed");
    }
    assert_eq!(
        notes.iter().filter(|n| n.severity() == "WARNING").count(),
        3
    );
}

/// The deny entries of the network ACL of `subnet`: (rule, egress, cidr).
async fn acl_denies(
    sdk: &aws_config::SdkConfig,
    subnet: &str,
) -> (String, Vec<(i32, bool, String)>) {
    let acls = aws_sdk_ec2::Client::new(sdk)
        .describe_network_acls()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("association.subnet-id")
                .values(subnet)
                .build(),
        )
        .send()
        .await
        .expect("describe network ACLs");
    let acl = acls.network_acls().first().expect("the subnet's ACL");
    let denies = acl
        .entries()
        .iter()
        .filter(|e| {
            e.rule_action() == Some(&aws_sdk_ec2::types::RuleAction::Deny)
                && e.rule_number() != Some(32767)
        })
        .map(|e| {
            (
                e.rule_number().unwrap_or_default(),
                e.egress().unwrap_or_default(),
                e.cidr_block().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    (acl.network_acl_id().unwrap_or_default().to_owned(), denies)
}

#[tokio::test]
async fn the_subnet_acl_denies_the_isolated_instance_only_until_the_release() {
    let s = setup(&[]).await;
    let sdk = &s.account.sdk;
    let (victim, bystander) = (s.fleet.web[0].clone(), s.fleet.web[1].clone());
    let described = aws_sdk_ec2::Client::new(sdk)
        .describe_instances()
        .instance_ids(&victim)
        .instance_ids(&bystander)
        .send()
        .await
        .expect("describe");
    let ip_and_subnet = |id: &str| {
        described
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .find(|i| i.instance_id() == Some(id))
            .map(|i| {
                (
                    i.private_ip_address().unwrap_or_default().to_owned(),
                    i.subnet_id().unwrap_or_default().to_owned(),
                )
            })
            .expect("instance")
    };
    let (victim_ip, subnet) = ip_and_subnet(&victim);
    let (bystander_ip, _) = ip_and_subnet(&bystander);
    fleet::taint(sdk, std::slice::from_ref(&victim), "Tainted").await;
    let summary = s
        .deliver(&create_tags("ev-acl", std::slice::from_ref(&victim)))
        .await;
    let done = steps(&summary, &victim);
    let nacl_steps: Vec<_> = done
        .iter()
        .filter(|st| st.name.starts_with("nacl "))
        .collect();
    assert!(
        !nacl_steps.is_empty() && nacl_steps.iter().all(|st| st.ok),
        "{done:?}"
    );

    let (acl, denies) = acl_denies(sdk, &subnet).await;
    let cidr = format!("{victim_ip}/32");
    for egress in [false, true] {
        assert!(
            denies.iter().any(|(_, e, c)| *e == egress && *c == cidr),
            "egress={egress}: {denies:?}"
        );
    }
    assert!(
        !denies
            .iter()
            .any(|(_, _, c)| *c == format!("{bystander_ip}/32")),
        "nothing for another instance"
    );

    // A redelivery after the incident adds nothing twice.
    s.deliver(&create_tags("ev-acl-again", std::slice::from_ref(&victim)))
        .await;
    assert_eq!(acl_denies(sdk, &subnet).await.1.len(), denies.len());

    // The documented release: each entry's command, from the step that added it.
    let ec2 = aws_sdk_ec2::Client::new(sdk);
    let mut released = 0;
    for st in &nacl_steps {
        for command in st.detail.split("release: ").skip(1) {
            let words: Vec<&str> = command.split_whitespace().collect();
            let rule: i32 = words
                .iter()
                .position(|w| *w == "--rule-number")
                .and_then(|i| words.get(i + 1))
                .and_then(|n| {
                    n.trim_end_matches(|c: char| !c.is_ascii_digit())
                        .parse()
                        .ok()
                })
                .expect("a rule number");
            let egress = command.contains("--egress");
            assert!(command.contains(&format!("--network-acl-id {acl}")));
            ec2.delete_network_acl_entry()
                .network_acl_id(&acl)
                .rule_number(rule)
                .egress(egress)
                .send()
                .await
                .expect("release an entry");
            released += 1;
        }
    }
    assert_eq!(released, 2);
    assert!(
        acl_denies(sdk, &subnet).await.1.is_empty(),
        "gone after the release"
    );
}

/// Forged taints and findings (a custom source, the detail of the real thing) isolate
/// nothing, however tainted the instance they name is.
#[tokio::test]
async fn forged_taints_and_findings_isolate_nothing() {
    let s = setup(&[]).await;
    let sdk = &s.account.sdk;
    let victim = s.fleet.web[0].clone();
    fleet::taint(sdk, std::slice::from_ref(&victim), "Tainted").await;
    let groups_before = {
        let mut all = Vec::new();
        for eni in fleet::interfaces(sdk, &victim).await {
            all.push(fleet::interface_groups(sdk, &eni).await);
        }
        all
    };
    let forgeries = [
        tourniquet_tests::forged(&create_tags("ct", std::slice::from_ref(&victim)), "f-1"),
        tourniquet_tests::forged(&tag_change("tc", &victim), "f-2"),
        tourniquet_tests::forged(&guardduty("guardduty-finding.json", "gd", &victim), "f-3"),
    ];
    for event in &forgeries {
        let summary = s.deliver(event).await;
        assert!(
            summary
                .ignored
                .as_deref()
                .is_some_and(|r| r.starts_with("forged")),
            "{summary:?}"
        );
    }
    assert_eq!(s.status(&victim).await, None, "not quarantined");
    let mut groups_after = Vec::new();
    for eni in fleet::interfaces(sdk, &victim).await {
        groups_after.push(fleet::interface_groups(sdk, &eni).await);
    }
    assert_eq!(groups_after, groups_before, "its network untouched");
    assert!(s.snapshots_of(&victim).await.is_empty(), "no snapshot");
    assert!(
        s.account.history_with("LOCK#").await.is_empty(),
        "no incident"
    );
    tourniquet_tests::assert_forgeries_reported(&s.account.notifications().await, 3);
}

/// A finding-shaped event GuardDuty does not back (directly invoked, say) isolates nothing:
/// GuardDuty has no such finding, or has it archived, or about another instance.
#[tokio::test]
async fn a_finding_guardduty_does_not_have_isolates_nothing() {
    let s = setup(&[]).await;
    let (victim, other) = (s.fleet.web[0].clone(), s.fleet.web[1].clone());
    // None at all (the emulator answers no finding unless told).
    let cases = [
        ("none", None),
        ("archived", Some((victim.clone(), true))),
        ("another instance", Some((other.clone(), false))),
    ];
    for (n, (what, has)) in cases.iter().enumerate() {
        match has {
            Some((instance, archived)) => guardduty_has(&s, instance, *archived),
            None => s.account.set_faults(json!([])),
        }
        let summary = s
            .deliver(&guardduty(
                "guardduty-finding.json",
                &format!("ev-{n}"),
                &victim,
            ))
            .await;
        assert!(
            matches!(summary.outcome_of(&victim), Some(Outcome::Noticed { .. })),
            "{what}: {summary:?}"
        );
        assert_eq!(s.status(&victim).await, None, "{what}: not isolated");
        let notes = s.account.notifications().await;
        assert_eq!(notes.len(), 1, "{what}: {notes:?}");
        assert_eq!(notes[0].severity(), "WARNING", "{what}");
        assert!(
            notes[0].subject.contains("unconfirmed finding"),
            "{}",
            notes[0].subject
        );
    }
    assert!(s.snapshots_of(&victim).await.is_empty());
    // GetFindings asked in the same round as the instance's reads.
    assert_eq!(s.account.requests().get("GetFindings"), Some(&3));
}

/// Nothing closes unsaid: the invocation dies at its publish, after the incident closed
/// (the publish hangs, then fails: it never reached SNS). The message was kept with the
/// close, so Lambda's retry of the delivery sends it, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invocation_that_dies_at_its_publish_is_told_by_its_retry_once() {
    let s = setup(&[]).await;
    let victim = s.fleet.web[0].clone();
    fleet::taint(&s.account.sdk, std::slice::from_ref(&victim), "Tainted").await;
    let event = create_tags("ev-dies-at-publish", std::slice::from_ref(&victim));
    s.account.set_faults(json!([{
        "operation": "Publish", "times": 1, "stall": 6, "code": "InternalError", "status": 500
    }]));
    let died = tokio::time::timeout(
        Duration::from_secs(4),
        handle(&s.fw, &s.isolator, &event, "request-1"),
    )
    .await;
    assert!(
        died.is_err(),
        "the invocation died at its publish: {died:?}"
    );
    assert_eq!(s.status(&victim).await.as_deref(), Some("quarantined"));
    let incidents = s.account.history_with(&format!("INCIDENT#{victim}")).await;
    assert_eq!(
        attr(&incidents[0], "status"),
        "remediated",
        "closed before the publish"
    );
    assert!(
        s.account.notifications().await.is_empty(),
        "nobody told yet"
    );
    // The stalled publish fails on its own, the faults are cleared; Lambda retries.
    tokio::time::sleep(Duration::from_secs(3)).await;
    s.account.set_faults(json!([]));
    let retry = s.deliver(&event).await;
    assert_eq!(tally([&retry]), BTreeMap::from([("duplicate", 1)]));
    let notes = s.account.notifications().await;
    assert_eq!(notes.len(), 1, "told once: {notes:?}");
    assert_eq!(notes[0].attr("action"), "isolate");
    assert_eq!(notes[0].attr("resource"), victim);
    // Sent once: another retry tells nobody.
    let again = s.deliver(&event).await;
    assert_eq!(tally([&again]), BTreeMap::from([("duplicate", 1)]));
    assert!(s.account.notifications().await.is_empty());
}

/// A dead invocation's groups are found again: it died after `CreateSecurityGroup` made the
/// VPC's two groups (tagged with its incident in the same call) and before it recorded them.
/// The resume adopts them, the quarantine one sealed, instead of making a second pair.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_resume_adopts_the_groups_its_dead_invocation_made() {
    let s = setup(&[]).await;
    let sdk = &s.account.sdk;
    let victim = s.fleet.web[0].clone();
    let eni = fleet::interfaces(sdk, &victim).await;
    fleet::taint(sdk, std::slice::from_ref(&victim), "Tainted").await;
    // The allow-all group's rules hang: both groups exist, neither is recorded.
    s.account.set_faults(json!([{
        "operation": "AuthorizeSecurityGroupIngress", "times": 1, "stall": 6,
        "code": "InternalError", "status": 500
    }]));
    let event = create_tags("ev-dies-creating", std::slice::from_ref(&victim));
    let died = tokio::time::timeout(Duration::from_secs(3), s.deliver(&event)).await;
    assert!(died.is_err(), "the invocation died making the groups");
    let made = fleet::groups_named(sdk, "tourniquet-quarantine*").await;
    assert_eq!(made.len(), 2, "the pair it made: {made:?}");
    assert!(
        s.account
            .history_with("BASELINE#quarantine-groups")
            .await
            .is_empty(),
        "not recorded"
    );
    tokio::time::sleep(Duration::from_secs(4)).await;
    s.account.set_faults(json!([]));
    s.account.expire_lease("isolate", &victim).await;

    let retry = s.deliver(&event).await;
    let case = &retry.cases[0];
    assert!(case.resumed, "{retry:?}");
    assert!(
        matches!(case.outcome, Outcome::Remediated { .. }),
        "{retry:?}"
    );
    let after = fleet::groups_named(sdk, "tourniquet-quarantine*").await;
    assert_eq!(after.len(), 2, "no second pair: {after:?}");
    let quarantine = s.quarantine_group().await;
    assert!(made.iter().any(|(id, _, _)| *id == quarantine), "adopted");
    let (_, inbound, outbound) = after
        .iter()
        .find(|(id, _, _)| *id == quarantine)
        .cloned()
        .unwrap_or_default();
    assert_eq!((inbound, outbound), (0, 0), "sealed: no rule at all");
    assert_eq!(
        fleet::interface_groups(sdk, &eni[0]).await,
        vec![quarantine]
    );
    assert_eq!(
        s.account
            .history_with("BASELINE#quarantine-groups")
            .await
            .len(),
        1,
        "recorded now"
    );
}

/// A stray (a group tagged as made by an incident, named by no record, its retry never come)
/// is noted by the sweep, left an hour by history's clock, then deleted and listed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweep_deletes_a_stray_group_an_hour_after_it_first_saw_it() {
    use aws_sdk_ec2::types::{ResourceType, Tag, TagSpecification};
    let s = setup(&[]).await;
    let sdk = &s.account.sdk;
    let tag = |k: &str, v: &str| Tag::builder().key(k).value(v).build();
    let stray = aws_sdk_ec2::Client::new(sdk)
        .create_security_group()
        .group_name("tourniquet-quarantine-0badc0de")
        .description("left by an invocation that died")
        .vpc_id(&s.fleet.vpc)
        .tag_specifications(
            TagSpecification::builder()
                .resource_type(ResourceType::SecurityGroup)
                .tags(tag("tourniquet:purpose", "quarantine-allow-all"))
                .tags(tag("tourniquet:incident", "ev-long-gone"))
                .build(),
        )
        .send()
        .await
        .expect("create the stray")
        .group_id()
        .expect("its id")
        .to_owned();
    let sweep = json!({"tourniquet": "sweep"});
    let first = handle(&s.fw, &s.isolator, &sweep, "sweep-1")
        .await
        .expect("swept");
    assert!(
        !first.upkeep.iter().any(|st| st.name == "stray-group"),
        "{:?}",
        first.upkeep
    );
    assert_eq!(
        fleet::groups_named(sdk, "tourniquet-quarantine-0badc0de")
            .await
            .len(),
        1,
        "left for its incident's retry"
    );
    let seen = s.account.history_with("BASELINE#quarantine-strays").await;
    assert_eq!(seen.len(), 1, "first seen, in history");

    // An hour later, as history tells it.
    aws_sdk_dynamodb::Client::new(sdk)
        .update_item()
        .table_name(&s.account.table)
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S("BASELINE#quarantine-strays".into()),
        )
        .key(
            "sk",
            aws_sdk_dynamodb::types::AttributeValue::S(stray.clone()),
        )
        .update_expression("SET config = :c")
        .expression_attribute_values(
            ":c",
            aws_sdk_dynamodb::types::AttributeValue::S(r#"{"first_seen_ms": 1}"#.into()),
        )
        .send()
        .await
        .expect("backdate");
    let second = handle(&s.fw, &s.isolator, &sweep, "sweep-2")
        .await
        .expect("swept");
    let step = second
        .upkeep
        .iter()
        .find(|st| st.name == "stray-group")
        .unwrap_or_else(|| panic!("{:?}", second.upkeep));
    assert!(step.ok && step.detail.contains(&stray), "{step:?}");
    assert!(
        fleet::groups_named(sdk, "tourniquet-quarantine-0badc0de")
            .await
            .is_empty(),
        "deleted"
    );
    // The pairs the sweep prepared are Tourniquet's own and stay: one per recorded VPC.
    let recorded = s
        .account
        .history_with("BASELINE#quarantine-groups")
        .await
        .len();
    assert!(recorded > 0);
    assert_eq!(
        fleet::groups_named(sdk, "tourniquet-quarantine")
            .await
            .len(),
        recorded
    );
}
