//! The operator's command as a person runs it: the built `tourniquet` binary, with the
//! operator's environment, against the emulator.

use std::process::{Command, Output};
use std::time::{Duration, SystemTime};

use isolate_instance::{FUNCTION, IsolateConfig, Isolator};
use serde_json::{Value, json};
use tourniquet::history::{History, Incident, IncidentStatus};
use tourniquet_tests::ec2::launch;
use tourniquet_tests::{Account, sample};

/// A run of the binary: its exit status, stdout and stderr.
struct Ran {
    status: i32,
    stdout: String,
    stderr: String,
}

impl Ran {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("{e}: {}", self.stdout))
    }
}

fn ran(out: Output) -> Ran {
    Ran {
        status: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `tourniquet ARGS` with the deployment's table and topic in its environment.
fn tourniquet(account: &Account, args: &[&str]) -> Ran {
    tourniquet_with(
        args,
        &[
            ("HISTORY_TABLE", &account.table),
            ("ALERT_TOPIC_ARN", &account.topic_arn),
        ],
    )
}

fn tourniquet_with(args: &[&str], env: &[(&str, &str)]) -> Ran {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tourniquet"));
    command
        .args(args)
        .env_remove("HISTORY_TABLE")
        .env_remove("ALERT_TOPIC_ARN");
    for (name, value) in env {
        command.env(name, value);
    }
    ran(command.output().expect("the binary runs"))
}

/// Writes `count` incidents through the functions' own write path, one every two hours back
/// from now, alternating actions and statuses; returns their ids, newest first.
async fn seed(account: &Account, count: u64) -> Vec<String> {
    let history = History::new(aws_sdk_dynamodb::Client::new(&account.sdk), &account.table);
    let now = SystemTime::now();
    let mut ids = Vec::new();
    for k in 0..count {
        let opened_at = now - Duration::from_secs(k * 7_200 + 60);
        let (action, function) = if k % 2 == 0 {
            ("isolate", "isolate-instance")
        } else {
            ("disable", "disable-offender")
        };
        let incident = Incident {
            id: Incident::key(opened_at, &format!("seed-{k}"), &format!("i-{k:017x}")),
            function: function.into(),
            action: action.into(),
            resource: format!("i-{k:017x}"),
            account: "123456789012".into(),
            region: "us-east-1".into(),
            delivery_id: format!("seed-{k}"),
            trigger: "seeded".into(),
            actor: None,
            opened_at,
            before: json!({"k": k}),
        };
        let status = if k % 3 == 0 {
            IncidentStatus::Held
        } else {
            IncidentStatus::InProgress
        };
        history
            .open_incident(&incident, status)
            .await
            .expect("seed an incident");
        if k % 3 == 1 {
            let steps = json!({"outcome": "remediated", "steps": []});
            history
                .close_incident(&incident, IncidentStatus::Remediated, &steps, now)
                .await
                .expect("close it");
        }
        ids.push(incident.id);
    }
    ids
}

/// What the emulator served that writes.
fn writes(account: &Account) -> u64 {
    let requests = account.requests();
    [
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "BatchWriteItem",
        "TransactWriteItems",
        "Publish",
    ]
    .iter()
    .map(|op| requests.get(*op).copied().unwrap_or(0))
    .sum()
}

fn ids_of(listing: &Value) -> Vec<String> {
    listing["incidents"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|i| i["id"].as_str().expect("an id").to_owned())
        .collect()
}

#[tokio::test]
async fn incidents_lists_a_day_without_a_scan_newest_first() {
    let account = Account::new().await;
    let ids = seed(&account, 120).await;
    let before = account.requests();

    let day = tourniquet(&account, &["incidents", "--since", "24h", "--json"]);
    assert_eq!(day.status, 0, "{}", day.stderr);
    // One every two hours, the first a minute ago: 12 in the last 24 hours, newest first.
    assert_eq!(ids_of(&day.json()), ids[..12]);
    let after = account.requests();
    let read =
        |op: &str| after.get(op).copied().unwrap_or(0) - before.get(op).copied().unwrap_or(0);
    assert_eq!(read("Scan"), 0, "a listing never scans the table");
    assert!(
        read("Query") <= 2,
        "one query per day the span touches: {after:?}"
    );

    let open = tourniquet(
        &account,
        &[
            "incidents",
            "--since",
            "3d",
            "--open",
            "--action",
            "disable",
            "--json",
        ],
    );
    assert_eq!(open.status, 0, "{}", open.stderr);
    let listed = open.json();
    let lines = listed["incidents"].as_array().expect("a list");
    assert!(!lines.is_empty());
    for line in lines {
        assert_eq!(line["action"], "disable");
        assert_ne!(line["status"], "remediated", "{line}");
        assert_eq!(line["account"], "123456789012");
    }

    let text = tourniquet(&account, &["incidents", "--since", "90m"]);
    assert_eq!(text.status, 0, "{}", text.stderr);
    assert_eq!(text.stdout.lines().count(), 1, "{}", text.stdout);
    assert!(text.stdout.starts_with(&ids[0]), "{}", text.stdout);
    assert!(
        text.stdout.contains("123456789012/us-east-1  held"),
        "{}",
        text.stdout
    );
}

#[tokio::test]
async fn show_tells_a_real_incident_by_its_id_or_its_resource() {
    let account = Account::new().await;
    let fw = account
        .framework(FUNCTION, &[("ISOLATION_LIMIT", "0")])
        .await;
    let config =
        IsolateConfig::from_env(&account.env(&[("ISOLATION_LIMIT", "0")])).expect("config");
    let isolator = Isolator::new(&fw, config);
    let victims = launch(&account.sdk, 1, &[("Tainted", "crypto miner")]).await;
    let victim = victims.first().expect("an instance").clone();
    let mut event = sample("isolate-instance/create-tags.json");
    event["detail"]["requestParameters"]["resourcesSet"]["items"] = json!([{"resourceId": victim}]);
    tourniquet::pipeline::handle(&fw, &isolator, &event, "request-held")
        .await
        .expect("handled");
    let notes = account.notifications().await;
    let id = notes
        .first()
        .and_then(|n| n.facts()["incident"].as_str().map(str::to_owned))
        .expect("the held notification names its incident");

    let by_id = tourniquet(&account, &["show", &id, "--json"]);
    assert_eq!(by_id.status, 0, "{}", by_id.stderr);
    let story = by_id.json();
    assert_eq!(story["resource"], victim.as_str());
    assert_eq!(story["incident"]["status"], "held");
    assert_eq!(story["incident"]["action"], "isolate");
    assert_eq!(story["incident"]["account"], "123456789012");

    let by_resource = tourniquet(&account, &["show", &victim]);
    assert_eq!(by_resource.status, 0, "{}", by_resource.stderr);
    for part in [
        id.as_str(),
        "held",
        "isolate (isolate-instance)",
        "safeguard",
        "State before",
    ] {
        assert!(
            by_resource.stdout.contains(part),
            "{part}: {}",
            by_resource.stdout
        );
    }
    let listed = tourniquet(&account, &["incidents", "--open", "--json"]);
    assert_eq!(ids_of(&listed.json()), [id]);
}

#[tokio::test]
async fn bad_input_exits_nonzero_with_a_reason_and_changes_nothing() {
    let account = Account::new().await;
    let ids = seed(&account, 3).await;
    let items = account.history_items().await;
    let writes_before = writes(&account);
    let unknown_day = "2020-01-01T00:00:00Z#nobody";
    let cases: [(&[&str], i32, &str); 8] = [
        (
            &["show", unknown_day],
            2,
            "no incident 2020-01-01T00:00:00Z#nobody",
        ),
        (
            &["show", "i-00000000000000999"],
            2,
            "no incident of i-00000000000000999",
        ),
        (&["show", ""], 2, "names no incident"),
        (&["show", "i-1 i-2"], 2, "names no incident"),
        (&["incidents", "--since", "forever"], 2, "--since"),
        (&["incidents", "--action", "nuke"], 2, "nuke"),
        (&["reboot"], 2, "reboot"),
        (&["show"], 2, "INCIDENT"),
    ];
    for (args, status, reason) in cases {
        let run = tourniquet(&account, args);
        assert_eq!(run.status, status, "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains(reason), "{args:?}: {}", run.stderr);
        assert!(run.stdout.is_empty(), "{args:?}: {}", run.stdout);
    }

    let no_table = tourniquet_with(&["incidents"], &[]);
    assert_eq!(no_table.status, 2, "{}", no_table.stderr);
    assert!(
        no_table.stderr.contains("HISTORY_TABLE"),
        "{}",
        no_table.stderr
    );
    let missing = tourniquet_with(&["show", &ids[0]], &[("HISTORY_TABLE", "no-such-table")]);
    assert_eq!(missing.status, 1, "{}", missing.stderr);
    assert!(
        missing.stderr.contains("no-such-table"),
        "{}",
        missing.stderr
    );
    let no_stack = tourniquet(&account, &["incidents", "--stack", "no-such-stack"]);
    assert_eq!(no_stack.status, 1, "{}", no_stack.stderr);
    assert!(
        no_stack.stderr.contains("no-such-stack"),
        "{}",
        no_stack.stderr
    );

    assert_eq!(writes(&account), writes_before, "bad input writes nothing");
    assert_eq!(account.history_items().await, items);
}
