//! The integration-test harness: a seeded account on the local AWS emulator.
//!
//! The emulator is started by the README's test command (`make test`), which points the AWS
//! SDK at it through `AWS_ENDPOINT_URL`. Tests build their clients with the same
//! `aws-config` loading that production uses. Without the emulator every test here fails
//! with a message that says how to run them: none is ever skipped.
//!
//! The emulator holds one account, so tests that use it run one at a time ([`Account::new`]
//! takes a lock and resets the emulator).

use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;

use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, Projection, ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};
use serde_json::Value;
use tokio::sync::{Mutex, MutexGuard};
use tourniquet::{Env, Framework};

pub mod ec2;
pub mod fleet;

static EMULATOR: Mutex<()> = Mutex::const_new(());

pub const REGION: &str = "us-east-1";
/// The emulator's account id.
pub const ACCOUNT: &str = "123456789012";

/// The emulator's endpoint, or a failure that says how to start it.
pub fn endpoint() -> String {
    match std::env::var("AWS_ENDPOINT_URL") {
        Ok(url) if url.starts_with("http://127.0.0.1:") => url,
        Ok(url) => panic!(
            "AWS_ENDPOINT_URL={url} is not a loopback emulator; run the tests with `make test`"
        ),
        Err(_) => panic!(
            "these tests need the local AWS emulator: run them with `make test`, \
             which starts it and sets AWS_ENDPOINT_URL"
        ),
    }
}

/// A raw HTTP POST to the emulator's control API.
fn post(path: &str, body: &str) {
    request("POST", path, body);
}

/// Creates an S3 bucket with a plain path-style PUT (the emulator does not check signatures;
/// the tests have no S3 client of their own).
pub fn create_bucket(name: &str) {
    request("PUT", &format!("/{name}"), "");
}

/// The body of a GET to the emulator's own API.
fn get(path: &str) -> String {
    let answer = request("GET", path, "");
    answer
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default()
}

fn request(method: &str, path: &str, body: &str) -> String {
    let url = endpoint();
    let host = url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(host).unwrap_or_else(|e| {
        panic!("the local AWS emulator at {url} does not answer ({e}); run `make test`")
    });
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("write to emulator");
    let mut answer = String::new();
    stream
        .read_to_string(&mut answer)
        .expect("read from emulator");
    assert!(
        answer.starts_with("HTTP/1.1 200") || answer.starts_with("HTTP/1.0 200"),
        "emulator {method} {path} answered: {answer}"
    );
    answer
}

/// An IAM policy document as IAM returns it (URL-encoded JSON), parsed.
pub fn policy_document(encoded: &str) -> Value {
    let bytes = encoded.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(Ok(b)) = encoded.get(i + 1..i + 3).map(|h| u8::from_str_radix(h, 16))
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    let text = String::from_utf8(out).expect("policy document is UTF-8");
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("policy document is not JSON ({e}): {text}"))
}

/// Deliveries of one event raced, as EventBridge may deliver an event twice: one acts; any
/// other answers `RetryLater` while the first holds the incident's lease, or `duplicate`
/// once it is done. Each `RetryLater` is then retried, as Lambda does, once all are
/// answered. The summaries of all of them, retries in place of what they retried.
pub async fn raced<F, Fut>(n: usize, deliver: F) -> Vec<tourniquet::Summary>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<tourniquet::Summary, tourniquet::pipeline::HandleError>>,
{
    let answers = futures_util::future::join_all((0..n).map(|_| deliver())).await;
    let mut summaries = Vec::new();
    for answer in answers {
        match answer {
            Ok(summary) => summaries.push(summary),
            Err(e @ tourniquet::pipeline::HandleError::Retry(_)) => {
                assert_eq!(e.kind(), "RetryLater");
                assert!(e.to_string().contains("live lease"), "{e}");
                summaries.push(deliver().await.expect("the retry is answered"));
            }
            Err(e) => panic!("a raced delivery failed: {e}"),
        }
    }
    summaries
}

/// How many cases, across summaries, ended in each outcome.
pub fn tally<'a>(
    summaries: impl IntoIterator<Item = &'a tourniquet::Summary>,
) -> BTreeMap<&'static str, usize> {
    let mut counts = BTreeMap::new();
    for case in summaries.into_iter().flat_map(|s| &s.cases) {
        *counts.entry(case.outcome.name()).or_insert(0) += 1;
    }
    counts
}

/// The repository's root, for the samples in `events/`.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// A sample event from `events/`.
pub fn sample(relative: &str) -> Value {
    let path = repo_root().join("events").join(relative);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// `event` as anyone with `events:PutEvents` can send it: the same detail under a source of
/// their own (EventBridge reserves `aws.*` sources, not detail-types), with its own id.
pub fn forged(event: &Value, id: &str) -> Value {
    let mut v = event.clone();
    v["source"] = Value::String("x.forge".to_owned());
    v["id"] = Value::String(id.to_owned());
    v
}

/// `event` as CloudTrail records it in the account of `sdk`: a sample's placeholder access key
/// (`AKIAEXAMPLE…`) becomes the named user's first real key (disable-offender checks that a
/// record's key is its user's).
pub async fn as_recorded(sdk: &SdkConfig, event: &Value) -> Value {
    let mut event = event.clone();
    let identity = &event["detail"]["userIdentity"];
    let placeholder = identity["accessKeyId"]
        .as_str()
        .is_some_and(|k| k.starts_with("AKIAEXAMPLE"));
    let Some(name) = identity["userName"].as_str().map(str::to_owned) else {
        return event;
    };
    if identity["type"] != "IAMUser" || !placeholder {
        return event;
    }
    let keys = aws_sdk_iam::Client::new(sdk)
        .list_access_keys()
        .user_name(&name)
        .send()
        .await
        .expect("keys");
    if let Some(key) = keys
        .access_key_metadata()
        .first()
        .and_then(|k| k.access_key_id())
    {
        event["detail"]["userIdentity"]["accessKeyId"] = Value::String(key.to_owned());
    }
    event
}

/// Asserts that every notification is the WARNING of an ignored forgery, one per event.
pub fn assert_forgeries_reported(notes: &[Received], count: usize) {
    assert_eq!(
        notes.len(),
        count,
        "one notification per forged event: {notes:?}"
    );
    for n in notes {
        assert_eq!(n.severity(), "WARNING", "{n:?}");
        assert_eq!(n.attr("action"), "forged", "{n:?}");
        assert!(
            n.subject.contains("x.forge"),
            "names the source: {}",
            n.subject
        );
    }
}

/// A notification as the on-call engineer's subscription receives it.
#[derive(Debug, Clone)]
pub struct Received {
    pub subject: String,
    pub message: String,
    pub attributes: BTreeMap<String, String>,
}

impl Received {
    pub fn severity(&self) -> &str {
        self.attributes
            .get("severity")
            .map(String::as_str)
            .unwrap_or("")
    }
    pub fn attr(&self, name: &str) -> &str {
        self.attributes.get(name).map(String::as_str).unwrap_or("")
    }
    /// The JSON facts that follow the readable part of the body.
    pub fn facts(&self) -> Value {
        let (_, json) = self
            .message
            .split_once("-- facts (JSON) --\n")
            .expect("the body ends with the facts as JSON");
        serde_json::from_str(json).expect("facts are JSON")
    }
}

/// What a chat channel subscribed to the topic received.
pub struct ChatChannel {
    posts: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl ChatChannel {
    /// The messages posted so far, each as the document SNS delivered in `Message`.
    pub fn messages(&self) -> Vec<Value> {
        self.posts
            .lock()
            .expect("posts")
            .iter()
            .map(|body| {
                let envelope: Value = serde_json::from_str(body).expect("SNS envelope is JSON");
                let message = envelope["Message"].as_str().expect("a Message");
                serde_json::from_str(message).expect("the chat message is a JSON document")
            })
            .collect()
    }
}

/// Reads one HTTP request and answers 200; its body, if it has one.
fn read_post(mut stream: TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let (head_end, length) = loop {
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..pos]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            break (pos + 4, length);
        }
    };
    while buf.len() < head_end + length {
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    let end = (head_end + length).min(buf.len());
    Some(String::from_utf8_lossy(&buf[head_end..end]).into_owned())
}

/// One test's view of the emulator: a fresh account with the history table, the alert topic
/// and a queue subscribed to it. Holds the emulator for the test's lifetime.
pub struct Account {
    _guard: MutexGuard<'static, ()>,
    pub sdk: SdkConfig,
    pub table: String,
    pub topic_arn: String,
    pub queue_url: String,
}

impl Account {
    /// Takes the emulator, resets it and seeds the framework's resources.
    pub async fn new() -> Self {
        let guard = EMULATOR.lock().await;
        post("/moto-api/reset", "");
        let sdk = tourniquet::clients::load().await;
        assert_eq!(
            sdk.endpoint_url(),
            Some(endpoint().as_str()),
            "the SDK must be pointed at the emulator through AWS_ENDPOINT_URL"
        );
        let table = "tourniquet-history".to_owned();
        create_history_table(&aws_sdk_dynamodb::Client::new(&sdk), &table).await;
        let sns = aws_sdk_sns::Client::new(&sdk);
        let sqs = aws_sdk_sqs::Client::new(&sdk);
        let topic_arn = sns
            .create_topic()
            .name("tourniquet-alerts")
            .send()
            .await
            .expect("create topic")
            .topic_arn
            .expect("topic arn");
        let queue_url = sqs
            .create_queue()
            .queue_name("on-call")
            .send()
            .await
            .expect("create queue")
            .queue_url
            .expect("queue url");
        let queue_arn = format!("arn:aws:sqs:{REGION}:{ACCOUNT}:on-call");
        sns.subscribe()
            .topic_arn(&topic_arn)
            .protocol("sqs")
            .endpoint(queue_arn)
            .send()
            .await
            .expect("subscribe queue");
        Self {
            _guard: guard,
            sdk,
            table,
            topic_arn,
            queue_url,
        }
    }

    /// Makes every later call of `operation` fail with the AWS error `code` (HTTP 400, not
    /// retried by the SDK), for error paths the emulator cannot produce by itself.
    pub fn inject_fault(&self, operation: &str, code: &str) {
        let faults = serde_json::json!([{"operation": operation, "code": code, "status": 400}]);
        post("/tourniquet/faults", &faults.to_string());
    }

    /// Replaces the emulator's faults: each `{"operation", "code", "status"}`, optionally with
    /// `skip`, `times` and `stall` (seconds held before failing, or before serving when
    /// there is no `code`). An empty list clears them.
    pub fn set_faults(&self, faults: Value) {
        post("/tourniquet/faults", &faults.to_string());
    }

    /// The requests the emulator served since this test began, by operation.
    pub fn requests(&self) -> BTreeMap<String, u64> {
        let answer = get("/tourniquet/requests");
        serde_json::from_str(&answer).expect("request counts are JSON")
    }

    /// Moves an open incident's lease into the past, as if its invocation had died long ago.
    pub async fn expire_lease(&self, action: &str, resource: &str) {
        aws_sdk_dynamodb::Client::new(&self.sdk)
            .update_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(format!("LOCK#{action}")))
            .key("sk", AttributeValue::S(resource.to_owned()))
            .update_expression("SET lease_until = :past")
            .expression_attribute_values(":past", AttributeValue::N("0".into()))
            .send()
            .await
            .expect("expire the lease");
    }

    /// The environment of a deployed function, plus `extra`.
    pub fn env(&self, extra: &[(&str, &str)]) -> Env {
        let mut pairs = vec![
            ("HISTORY_TABLE", self.table.as_str()),
            ("ALERT_TOPIC_ARN", self.topic_arn.as_str()),
        ];
        pairs.extend_from_slice(extra);
        Env::from_pairs(pairs)
    }

    /// The framework as a function's cold start builds it.
    pub async fn framework(&self, function: &'static str, extra: &[(&str, &str)]) -> Framework {
        Framework::start(function, &self.env(extra), self.sdk.clone())
            .await
            .expect("framework starts")
    }

    /// The SDK configuration of another account of the emulator, as its administrator:
    /// the emulator keeps accounts apart by credentials, and a role assumed in an account
    /// acts there.
    pub async fn other(&self, account: &str) -> SdkConfig {
        let role = aws_config::sts::AssumeRoleProvider::builder(format!(
            "arn:aws:iam::{account}:role/OrganizationAccountAccessRole"
        ))
        .session_name("test-admin")
        .configure(&self.sdk)
        .build()
        .await;
        self.sdk
            .clone()
            .into_builder()
            .credentials_provider(
                aws_credential_types::provider::SharedCredentialsProvider::new(role),
            )
            .build()
    }

    /// Every notification published since the last call.
    pub async fn notifications(&self) -> Vec<Received> {
        let sqs = aws_sdk_sqs::Client::new(&self.sdk);
        let mut out = Vec::new();
        loop {
            let batch = sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(10)
                .send()
                .await
                .expect("receive");
            let messages = batch.messages.unwrap_or_default();
            if messages.is_empty() {
                return out;
            }
            for m in messages {
                let envelope: Value =
                    serde_json::from_str(m.body().unwrap_or("")).expect("SNS envelope is JSON");
                let attributes = envelope["MessageAttributes"]
                    .as_object()
                    .map(|attrs| {
                        attrs
                            .iter()
                            .map(|(k, v)| (k.clone(), v["Value"].as_str().unwrap_or("").to_owned()))
                            .collect()
                    })
                    .unwrap_or_default();
                out.push(Received {
                    subject: envelope["Subject"].as_str().unwrap_or("").to_owned(),
                    message: envelope["Message"].as_str().unwrap_or("").to_owned(),
                    attributes,
                });
                if let Some(handle) = m.receipt_handle() {
                    sqs.delete_message()
                        .queue_url(&self.queue_url)
                        .receipt_handle(handle)
                        .send()
                        .await
                        .expect("delete message");
                }
            }
        }
    }

    /// A chat channel's view of the topic: a loopback HTTP endpoint subscribed to it, as AWS
    /// Chatbot subscribes over HTTPS. HTTP subscribers get the message's `default` text, which
    /// Tourniquet makes the same chat document as its `https` text.
    pub async fn chat_channel(&self) -> ChatChannel {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind chat endpoint");
        let port = listener.local_addr().expect("local address").port();
        let posts = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = posts.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                if let Some(body) = read_post(stream) {
                    sink.lock().expect("posts").push(body);
                }
            }
        });
        aws_sdk_sns::Client::new(&self.sdk)
            .subscribe()
            .topic_arn(&self.topic_arn)
            .protocol("http")
            .endpoint(format!("http://127.0.0.1:{port}/chat"))
            .send()
            .await
            .expect("subscribe the chat endpoint");
        ChatChannel { posts }
    }

    /// Every item of the history table.
    pub async fn history_items(&self) -> Vec<HashMap<String, AttributeValue>> {
        aws_sdk_dynamodb::Client::new(&self.sdk)
            .scan()
            .table_name(&self.table)
            .send()
            .await
            .expect("scan history")
            .items
            .unwrap_or_default()
    }

    /// History items whose partition key starts with `prefix`.
    pub async fn history_with(&self, prefix: &str) -> Vec<HashMap<String, AttributeValue>> {
        self.history_items()
            .await
            .into_iter()
            .filter(|i| {
                i.get("pk")
                    .and_then(|v| v.as_s().ok())
                    .is_some_and(|pk| pk.starts_with(prefix))
            })
            .collect()
    }
}

/// A string attribute of a history item.
pub fn attr<'a>(item: &'a HashMap<String, AttributeValue>, name: &str) -> &'a str {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
        .unwrap_or("")
}

/// The history table as the template defines it.
pub async fn create_history_table(db: &aws_sdk_dynamodb::Client, name: &str) {
    let key = |n: &str, t| {
        KeySchemaElement::builder()
            .attribute_name(n)
            .key_type(t)
            .build()
            .expect("key")
    };
    let def = |n: &str| {
        AttributeDefinition::builder()
            .attribute_name(n)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .expect("attribute")
    };
    db.create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key("pk", KeyType::Hash))
        .key_schema(key("sk", KeyType::Range))
        .attribute_definitions(def("pk"))
        .attribute_definitions(def("sk"))
        .attribute_definitions(def("day"))
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(tourniquet::history::INCIDENTS_BY_DAY)
                .key_schema(key("day", KeyType::Hash))
                .key_schema(key("sk", KeyType::Range))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::Include)
                        .set_non_key_attributes(Some(
                            tourniquet::history::PROJECTED.map(String::from).to_vec(),
                        ))
                        .build(),
                )
                .build()
                .expect("index"),
        )
        .send()
        .await
        .expect("create history table");
    db.update_time_to_live()
        .table_name(name)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name("expires_at")
                .enabled(true)
                .build()
                .expect("ttl"),
        )
        .send()
        .await
        .expect("enable ttl");
}
