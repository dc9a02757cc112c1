//! Cutting at the subnets' edges what security groups cannot: AWS tracks flows through an
//! NLB, a NAT gateway, a transit gateway, a Gateway Load Balancer or PrivateLink whatever
//! the rules, so moving the interface to the quarantine group does not stop them. Those all
//! reach the instance from another subnet of its VPC (the NAT gateway's, the load balancer's,
//! the endpoint's). A network ACL rule matches the source on the way in and the destination
//! on the way out, so the instance's addresses are denied in every network ACL of the VPC:
//! inbound, as a source, stops what the instance sends into another subnet; outbound, as a
//! destination, stops what another subnet sends to it. Traffic inside the instance's own
//! subnet never meets an ACL; the quarantine group covers it.
//!
//! Runs beside the critical path. Isolations in one VPC take turns on each ACL under a short
//! turn in history, each reading it afresh, so no two pick the same rule number; a conflict
//! left by one that went on without its turn is planned again. Entries already there (an
//! incident resumed) are kept, not added twice; a full ACL (20 entries per direction by
//! default) is a failed step that says so.

use std::collections::BTreeSet;
use std::time::Duration;

use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{Filter, NetworkAcl, NetworkAclEntry, RuleAction};
use futures_util::future::join_all;
use tourniquet::Step;
use tourniquet::errors::sdk_message;
use tourniquet::history::History;

use crate::instance::Instance;

/// Entries a network ACL holds per direction, by default.
pub const ENTRIES_PER_DIRECTION: usize = 20;
/// The rule number of an ACL's catch-all entry, which is not counted or used.
const CATCH_ALL: i32 = 32767;
/// An ACL is changed during a turn this long at most; turns are tried this often, 200 ms apart.
const TURN: Duration = Duration::from_secs(20);
const TURN_TRIES: u32 = 30;
/// Plans made again when another isolation took a rule number first.
const REPLANS: u32 = 3;
/// EC2's error code for a rule number already in use.
const TAKEN: &str = "NetworkAclEntryAlreadyExists";

/// One deny entry to add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub egress: bool,
    pub rule: i32,
    /// `a.b.c.d/32` or `x::y/128`.
    pub cidr: String,
}

impl Entry {
    fn direction(&self) -> &'static str {
        if self.egress { "egress" } else { "ingress" }
    }

    /// The command that removes it, for the release.
    pub fn release(&self, acl: &str) -> String {
        format!(
            "aws ec2 delete-network-acl-entry --network-acl-id {acl} --rule-number {} --{}",
            self.rule,
            self.direction()
        )
    }
}

fn cidr_of(address: &str) -> String {
    if address.contains(':') {
        format!("{address}/128")
    } else {
        format!("{address}/32")
    }
}

fn entry_cidr(e: &NetworkAclEntry) -> Option<&str> {
    e.cidr_block().or(e.ipv6_cidr_block())
}

/// The entries to add to one ACL for `addresses`, or why none can be: the decision, apart
/// from any call. Numbers are taken downward from just below the lowest allow entry.
pub fn plan(
    entries: &[NetworkAclEntry],
    addresses: &BTreeSet<String>,
) -> Result<Vec<Entry>, String> {
    let mut out = Vec::new();
    for egress in [false, true] {
        let direction: Vec<&NetworkAclEntry> = entries
            .iter()
            // The catch-all entries (32767, and 32768 for IPv6) are neither counted nor used.
            .filter(|e| {
                e.egress() == Some(egress) && e.rule_number().is_some_and(|n| n < CATCH_ALL)
            })
            .collect();
        let denied: BTreeSet<&str> = direction
            .iter()
            .filter(|e| e.rule_action() == Some(&RuleAction::Deny))
            .filter_map(|e| entry_cidr(e))
            .collect();
        let needed: Vec<String> = addresses
            .iter()
            .map(|a| cidr_of(a))
            .filter(|c| !denied.contains(c.as_str()))
            .collect();
        if needed.is_empty() {
            continue;
        }
        let name = if egress { "egress" } else { "ingress" };
        if direction.len() + needed.len() > ENTRIES_PER_DIRECTION {
            return Err(format!(
                "{name}: {} entries already, no room for {} more (quota {ENTRIES_PER_DIRECTION})",
                direction.len(),
                needed.len()
            ));
        }
        let used: BTreeSet<i32> = direction.iter().filter_map(|e| e.rule_number()).collect();
        let lowest_allow = direction
            .iter()
            .filter(|e| e.rule_action() == Some(&RuleAction::Allow))
            .filter_map(|e| e.rule_number())
            .min()
            .unwrap_or(CATCH_ALL);
        let free: Vec<i32> = (1..lowest_allow)
            .rev()
            .filter(|n| !used.contains(n))
            .take(needed.len())
            .collect();
        if free.len() < needed.len() {
            return Err(format!(
                "{name}: no free rule number below the first allow entry (#{lowest_allow})"
            ));
        }
        out.extend(
            needed
                .into_iter()
                .zip(free)
                .map(|(cidr, rule)| Entry { egress, rule, cidr }),
        );
    }
    Ok(out)
}

/// The instance's addresses, IPv4 and IPv6.
fn addresses(inst: &Instance) -> BTreeSet<String> {
    inst.interfaces
        .iter()
        .flat_map(|eni| eni.private_ips.iter().chain(&eni.ipv6).cloned())
        .collect()
}

async fn acls_of_vpc(ec2: &Client, vpc: &str) -> Result<Vec<NetworkAcl>, String> {
    let filter = Filter::builder().name("vpc-id").values(vpc).build();
    ec2.describe_network_acls()
        .filters(filter)
        .send()
        .await
        .map(|out| out.network_acls().to_vec())
        .map_err(|e| format!("DescribeNetworkAcls: {}", sdk_message(&e)))
}

async fn acl(ec2: &Client, id: &str) -> Result<Option<NetworkAcl>, String> {
    ec2.describe_network_acls()
        .network_acl_ids(id)
        .send()
        .await
        .map(|out| out.network_acls().first().cloned())
        .map_err(|e| format!("DescribeNetworkAcls {id}: {}", sdk_message(&e)))
}

async fn add(ec2: &Client, acl: &str, e: &Entry) -> Result<(), String> {
    let mut request = ec2
        .create_network_acl_entry()
        .network_acl_id(acl)
        .rule_number(e.rule)
        .protocol("-1")
        .rule_action(RuleAction::Deny)
        .egress(e.egress);
    request = if e.cidr.contains(':') {
        request.ipv6_cidr_block(&e.cidr)
    } else {
        request.cidr_block(&e.cidr)
    };
    request
        .send()
        .await
        .map(|_| ())
        .map_err(|err| format!("#{} {}: {}", e.rule, e.direction(), sdk_message(&err)))
}

/// One ACL's deny entries for the addresses of its subnets, planned on a fresh read.
async fn deny_in(ec2: &Client, id: &str, addresses: &BTreeSet<String>) -> Step {
    let name = format!("nacl {id}");
    let acl = match acl(ec2, id).await {
        Ok(found) => found,
        Err(e) => return Step::failed(name, e),
    };
    let Some(acl) = acl else {
        return Step::failed(name, "the network ACL is gone");
    };
    let entries = match plan(acl.entries(), addresses) {
        Ok(entries) => entries,
        Err(why) => {
            return Step::failed(
                name,
                format!("not added, {why}: flows through NLB, NAT or PrivateLink may go on"),
            );
        }
    };
    if entries.is_empty() {
        return Step::ok(name, "deny entries already there");
    }
    let results = join_all(entries.iter().map(|e| add(ec2, id, e))).await;
    let failed: Vec<String> = results.into_iter().filter_map(Result::err).collect();
    let added: Vec<String> = entries
        .iter()
        .map(|e| {
            format!(
                "#{} {} deny {} (release: {})",
                e.rule,
                e.direction(),
                e.cidr,
                e.release(id)
            )
        })
        .collect();
    if failed.is_empty() {
        Step::ok(name, added.join("; "))
    } else {
        Step::failed(
            name,
            format!("{}; FAILED: {}", added.join("; "), failed.join("; ")),
        )
    }
}

/// [`deny_in`] in this ACL's turn; planned again when a rule number was taken meanwhile.
async fn deny_in_turn(
    ec2: &Client,
    history: &History,
    id: &str,
    addresses: &BTreeSet<String>,
) -> Step {
    let turn = format!("network-acl#{id}");
    let me = addresses.iter().next().cloned().unwrap_or_default();
    let my_turn = history
        .wait_turn(&turn, &me, TURN, TURN_TRIES, Duration::from_millis(200))
        .await;
    let mut step = deny_in(ec2, id, addresses).await;
    for _ in 0..REPLANS {
        if step.ok || !step.detail.contains(TAKEN) {
            break;
        }
        step = deny_in(ec2, id, addresses).await;
    }
    if my_turn && let Err(e) = history.end_turn(&turn, &me).await {
        tracing::warn!(error = %e, "could not end the network ACL turn; it runs out");
    }
    step
}

/// Deny entries for the instance's addresses in every network ACL of its VPC.
pub async fn deny(ec2: &Client, history: &History, inst: &Instance) -> Vec<Step> {
    let addresses = addresses(inst);
    let Some(vpc) = inst.vpc_id.as_deref().filter(|_| !addresses.is_empty()) else {
        return Vec::new();
    };
    let acls = match acls_of_vpc(ec2, vpc).await {
        Ok(a) => a,
        Err(e) => return vec![Step::failed("nacl", e)],
    };
    let per_acl = acls.iter().map(|acl| {
        let id = acl.network_acl_id().unwrap_or_default().to_owned();
        let addresses = &addresses;
        async move { deny_in_turn(ec2, history, &id, addresses).await }
    });
    join_all(per_acl).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(rule: i32, egress: bool, allow: bool, cidr: &str) -> NetworkAclEntry {
        NetworkAclEntry::builder()
            .rule_number(rule)
            .egress(egress)
            .rule_action(if allow {
                RuleAction::Allow
            } else {
                RuleAction::Deny
            })
            .cidr_block(cidr)
            .build()
    }

    fn default_acl() -> Vec<NetworkAclEntry> {
        vec![
            entry(100, false, true, "0.0.0.0/0"),
            entry(32767, false, false, "0.0.0.0/0"),
            entry(100, true, true, "0.0.0.0/0"),
            entry(32767, true, false, "0.0.0.0/0"),
        ]
    }

    fn ips(list: &[&str]) -> BTreeSet<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn deny_entries_go_below_the_first_allow_in_both_directions() {
        let plan = plan(&default_acl(), &ips(&["10.0.1.5", "10.0.1.6"])).unwrap();
        assert_eq!(
            plan,
            vec![
                Entry {
                    egress: false,
                    rule: 99,
                    cidr: "10.0.1.5/32".into()
                },
                Entry {
                    egress: false,
                    rule: 98,
                    cidr: "10.0.1.6/32".into()
                },
                Entry {
                    egress: true,
                    rule: 99,
                    cidr: "10.0.1.5/32".into()
                },
                Entry {
                    egress: true,
                    rule: 98,
                    cidr: "10.0.1.6/32".into()
                },
            ]
        );
        assert_eq!(
            plan[0].release("acl-1"),
            "aws ec2 delete-network-acl-entry --network-acl-id acl-1 --rule-number 99 --ingress"
        );
    }

    #[test]
    fn entries_already_there_are_not_added_again_and_used_numbers_are_skipped() {
        let mut acl = default_acl();
        acl.push(entry(99, false, false, "10.0.1.5/32"));
        acl.push(entry(99, true, false, "10.0.1.5/32"));
        acl.push(entry(98, true, false, "192.168.0.0/16"));
        let plan = plan(&acl, &ips(&["10.0.1.5", "10.0.1.6"])).unwrap();
        assert_eq!(
            plan,
            vec![
                Entry {
                    egress: false,
                    rule: 98,
                    cidr: "10.0.1.6/32".into()
                },
                Entry {
                    egress: true,
                    rule: 97,
                    cidr: "10.0.1.6/32".into()
                },
            ]
        );
        assert!(plan_is_empty(&acl, "10.0.1.5"));
    }

    fn plan_is_empty(acl: &[NetworkAclEntry], ip: &str) -> bool {
        plan(acl, &ips(&[ip])).unwrap().is_empty()
    }

    #[test]
    fn a_full_acl_or_no_room_below_the_first_allow_is_refused() {
        let mut full = default_acl();
        for n in 0..19 {
            full.push(entry(200 + n, false, true, "10.9.0.0/16"));
        }
        assert!(
            plan(&full, &ips(&["10.0.1.5"]))
                .unwrap_err()
                .contains("quota 20")
        );
        let tight = vec![entry(1, false, true, "0.0.0.0/0")];
        assert!(
            plan(&tight, &ips(&["10.0.1.5"]))
                .unwrap_err()
                .contains("no free rule number")
        );
        let v6 = plan(&[], &ips(&["2600:1f18::5"])).unwrap();
        assert_eq!(v6[0].cidr, "2600:1f18::5/128");
        assert_eq!(v6[0].rule, 32766);
    }
}
