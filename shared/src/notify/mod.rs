//! Notifications over SNS, as the contract shapes them: a subject under 100 characters that
//! names the action and the resource, a body a person reads in an e-mail followed by the same
//! facts as JSON, and the message attributes `severity`, `function`, `action`, `resource`
//! that subscriptions filter on (a pager subscribes to `CRITICAL` only).
//!
//! One publish per notification, with `MessageStructure=json`, so that each kind of
//! subscriber gets what it can read: e-mail and queues the text, chat (AWS Chatbot, now
//! Amazon Q Developer in chat applications, subscribed over HTTPS) its custom-notification
//! document, SMS the subject line alone.
//!
//! Beside the message itself: the port the pipeline pages through ([`pager`]), the report
//! a case's message is composed from ([`report`]), the summary of cases a safeguard holds
//! ([`held`]) and the messages SNS refused, kept for a retry ([`unsent`]).

pub mod held;
pub mod pager;
pub mod report;
pub mod unsent;

pub use pager::Pager;

use aws_sdk_sns::Client;
use aws_sdk_sns::types::MessageAttributeValue;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::console::Link;
use crate::errors::sdk_message;
use crate::members::Scope;

/// How urgent a notification is: `Info` nothing to do, `Warning` a person should look today,
/// `Critical` wake a human now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Severity {
    #[default]
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "INFO",
            Self::Warning => "WARNING",
            Self::Critical => "CRITICAL",
        }
    }

    /// What the severity asks of the reader.
    fn ask(self) -> &'static str {
        match self {
            Self::Critical => "a human is needed now",
            Self::Warning => "a person should look today",
            Self::Info => "for your information, nothing to do",
        }
    }
}

/// One message about one incident. Serializable so that one SNS refused can be kept in
/// history and sent by the retry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    pub severity: Severity,
    /// What was done or attempted (`isolate`, `held`, `heal`, …).
    pub action: String,
    /// The resource or principal concerned.
    pub resource: String,
    /// The headline, without severity or function: `isolated i-0abc`.
    pub headline: String,
    /// Sentences for the e-mail body, one paragraph each.
    pub body: Vec<String>,
    /// What a person should do now, in order.
    pub next_steps: Vec<String>,
    pub links: Vec<Link>,
    /// The incident the message belongs to: messages of one incident thread together.
    pub incident: String,
    /// Where the resource is, when its key does not say (an ARN names its account and
    /// region, a bare id is in the function's own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<Scope>,
    /// The same facts, machine-readable.
    pub facts: Value,
}

impl Notification {
    /// Where the notification itself says the resource is: as set, or as its ARN says (a
    /// global resource's with an empty region).
    pub fn named_scope(&self) -> Option<Scope> {
        self.scope
            .clone()
            .or_else(|| Scope::of_arn(&self.resource, ""))
    }

    /// Where the resource is: as the notification says, or `home` (whose region stands in for
    /// a global resource's).
    pub fn place(&self, home: &Scope) -> Scope {
        let mut place = self.named_scope().unwrap_or_else(|| home.clone());
        if place.region.is_empty() {
            place.region = home.region.clone();
        }
        place
    }
}

/// SNS subjects: ASCII, no control characters, under 100 characters.
pub const MAX_SUBJECT: usize = 99;

/// The subject line: `[SEVERITY] function: headline`, cut to fit.
pub fn subject(function: &str, n: &Notification) -> String {
    let raw = format!("[{}] {function}: {}", n.severity.as_str(), n.headline);
    let mut clean: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii() && !c.is_ascii_control() {
                c
            } else {
                '?'
            }
        })
        .collect();
    if clean.len() > MAX_SUBJECT {
        clean.truncate(MAX_SUBJECT - 3);
        clean.push_str("...");
    }
    clean
}

/// The e-mail text: where, the readable part, the next steps and links, then the facts as
/// JSON.
pub fn body(function: &str, n: &Notification, place: &Scope) -> String {
    let mut text = format!(
        "{} - {}\nIn {}.\n\n",
        n.severity.as_str(),
        n.severity.ask(),
        place.describe()
    );
    for paragraph in &n.body {
        text.push_str(paragraph);
        text.push_str("\n\n");
    }
    if !n.next_steps.is_empty() {
        text.push_str("NEXT STEPS\n");
        for (i, step) in n.next_steps.iter().enumerate() {
            text.push_str(&format!("  {}. {step}\n", i + 1));
        }
        text.push('\n');
    }
    if !n.links.is_empty() {
        text.push_str("LINKS\n");
        for l in &n.links {
            text.push_str(&format!("  - {}: {}\n", l.label, l.url));
        }
        text.push('\n');
    }
    let facts = serde_json::json!({
        "severity": n.severity,
        "function": function,
        "action": n.action,
        "resource": n.resource,
        "account": place.account,
        "region": place.region,
        "incident": n.incident,
        "next_steps": n.next_steps,
        "links": n.links,
        "facts": n.facts,
    });
    text.push_str("-- facts (JSON) --\n");
    text.push_str(&serde_json::to_string_pretty(&facts).unwrap_or_else(|_| facts.to_string()));
    text.push('\n');
    text
}

/// Limits kept in the chat document, below those of the custom-notification schema so that
/// Slack and Teams show it whole: a title on one line, a description a person reads.
pub const CHAT_TITLE_MAX: usize = 250;
pub const CHAT_DESCRIPTION_MAX: usize = 4000;
pub const CHAT_NEXT_STEPS_MAX: usize = 10;
pub const CHAT_ITEM_MAX: usize = 500;

/// Cuts `s` to at most `max` characters, saying so. Angle brackets become look-alikes: a tag
/// value or a session name is written by someone else, and in chat `<!channel>` would page a
/// whole channel and `<url|text>` would hide a link.
fn cut(s: &str, max: usize) -> String {
    let clean = s.replace('<', "\u{2039}").replace('>', "\u{203a}");
    if clean.chars().count() <= max {
        return clean;
    }
    let mut out: String = clean.chars().take(max.saturating_sub(3)).collect();
    out.push_str("...");
    out
}

/// The AWS Chatbot custom-notification document (version 1.0, source `custom`): what a chat
/// channel subscribed to the topic shows. Threaded by incident.
pub fn chat(function: &str, n: &Notification) -> Value {
    let marker = match n.severity {
        Severity::Critical => ":rotating_light:",
        Severity::Warning => ":warning:",
        Severity::Info => ":information_source:",
    };
    let title = cut(
        &format!("{marker} {}", subject(function, n)),
        CHAT_TITLE_MAX,
    );
    let description = cut(
        &format!(
            "*{}*: {}\n\n{}",
            n.severity.as_str(),
            n.severity.ask(),
            n.body.join("\n\n")
        ),
        CHAT_DESCRIPTION_MAX,
    );
    let mut next_steps: Vec<String> = n.next_steps.iter().map(|s| cut(s, CHAT_ITEM_MAX)).collect();
    next_steps.extend(
        n.links
            .iter()
            .map(|l| cut(&format!("Open {}: {}", l.label, l.url), CHAT_ITEM_MAX)),
    );
    if next_steps.len() > CHAT_NEXT_STEPS_MAX {
        next_steps.truncate(CHAT_NEXT_STEPS_MAX - 1);
        next_steps.push("More in the e-mail of this notification.".to_owned());
    }
    let keywords: Vec<String> = [n.severity.as_str(), function, n.action.as_str()]
        .into_iter()
        .filter(|k| !k.is_empty())
        .map(|k| cut(k, 75))
        .collect();
    serde_json::json!({
        "version": "1.0",
        "source": "custom",
        "content": {
            "textType": "client-markdown",
            "title": title,
            "description": description,
            "nextSteps": next_steps,
            "keywords": keywords,
        },
        "metadata": {
            "threadId": cut(&format!("tourniquet-{}", n.incident), 100),
            "summary": cut(&n.headline, CHAT_ITEM_MAX),
            "eventType": cut(&n.action, 75),
            "relatedResources": [n.resource],
            "additionalContext": {
                "severity": n.severity.as_str(),
                "function": function,
                "incident": n.incident,
            },
        },
    })
}

/// The `MessageStructure=json` message: one text per kind of subscriber. E-mail, queues and
/// functions keep the contract's body (readable text, then the facts as JSON); chat over
/// HTTPS, and anything else, gets the chat document; SMS only the subject.
pub fn message(function: &str, n: &Notification, place: &Scope) -> String {
    let text = body(function, n, place);
    let chat = chat(function, n).to_string();
    serde_json::json!({
        "default": chat,
        "https": chat,
        "email": text,
        "sqs": text,
        "lambda": text,
        "sms": subject(function, n),
    })
    .to_string()
}

#[derive(Debug, thiserror::Error)]
#[error("SNS publish to {topic} failed: {message}")]
pub struct NotifyError {
    pub topic: String,
    pub message: String,
}

/// Publishes notifications to the alert topic.
#[derive(Debug, Clone)]
pub struct Notifier {
    sns: Client,
    topic_arn: String,
    function: &'static str,
    /// The function's own account and region: where a resource with a bare id is.
    home: Scope,
}

impl Notifier {
    pub fn new(
        sns: Client,
        topic_arn: impl Into<String>,
        function: &'static str,
        home: Scope,
    ) -> Self {
        Self {
            sns,
            topic_arn: topic_arn.into(),
            function,
            home,
        }
    }

    pub async fn send(&self, n: &Notification) -> Result<(), NotifyError> {
        let attr = |v: &str| {
            MessageAttributeValue::builder()
                .data_type("String")
                .string_value(v)
                .build()
        };
        let err = |message: String| NotifyError {
            topic: self.topic_arn.clone(),
            message,
        };
        // An empty attribute value is rejected by SNS; name it instead.
        let resource = if n.resource.is_empty() {
            "-"
        } else {
            &n.resource
        };
        let place = n.place(&self.home);
        let mut publish = self
            .sns
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(subject(self.function, n))
            .message_structure("json")
            .message(message(self.function, n, &place));
        for (name, value) in [
            ("severity", n.severity.as_str()),
            ("function", self.function),
            ("action", n.action.as_str()),
            ("resource", resource),
            ("account", place.account.as_str()),
            ("region", place.region.as_str()),
        ] {
            publish =
                publish.message_attributes(name, attr(value).map_err(|e| err(e.to_string()))?);
        }
        publish.send().await.map_err(|e| err(sdk_message(&e)))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn note(headline: &str) -> Notification {
        Notification {
            severity: Severity::Critical,
            action: "held".into(),
            resource: "i-0123456789abcdef0".into(),
            headline: headline.into(),
            body: vec!["The safeguard held.".into(), "Release with ...".into()],
            next_steps: vec!["Decide whether to isolate it.".into()],
            links: vec![crate::console::instance(
                "aws",
                "eu-west-1",
                "i-0123456789abcdef0",
            )],
            incident: "2026-11-29T03:00:00Z#abc".into(),
            scope: None,
            facts: json!({"limit": 3}),
        }
    }

    #[test]
    fn the_place_is_the_resource_arn_s_or_home() {
        let home = Scope::new("111122223333", "eu-west-1");
        assert_eq!(note("x").place(&home), home);
        let member = Notification {
            resource: "arn:aws:ec2:us-east-2:444455556666:instance/i-1".into(),
            ..note("x")
        };
        assert_eq!(member.place(&home), Scope::new("444455556666", "us-east-2"));
        let set = Notification {
            scope: Some(Scope::new("777788889999", "ap-south-1")),
            ..note("x")
        };
        assert_eq!(set.place(&home), Scope::new("777788889999", "ap-south-1"));
    }

    #[test]
    fn subject_names_severity_function_and_headline() {
        let s = subject("isolate-instance", &note("held i-0123456789abcdef0"));
        assert_eq!(s, "[CRITICAL] isolate-instance: held i-0123456789abcdef0");
    }

    #[test]
    fn subject_is_short_ascii_without_control_characters() {
        let s = subject(
            "isolate-instance",
            &note(&format!("held \u{e9}\n{}", "x".repeat(200))),
        );
        assert!(s.len() < 100, "{} chars", s.len());
        assert!(s.is_ascii());
        assert!(!s.chars().any(|c| c.is_ascii_control()));
        assert!(s.ends_with("..."));
        assert!(s.starts_with("[CRITICAL] isolate-instance: held ?"));
    }

    #[test]
    fn body_is_readable_then_json() {
        let place = Scope::new("111122223333", "eu-west-1");
        let b = body("isolate-instance", &note("held i-1"), &place);
        assert!(b.starts_with(
            "CRITICAL - a human is needed now\nIn account 111122223333, eu-west-1.\n\nThe safeguard held.\n\n"
        ));
        let (_, json_part) = b.split_once("-- facts (JSON) --\n").unwrap();
        let v: Value = serde_json::from_str(json_part).unwrap();
        assert_eq!(v["severity"], "CRITICAL");
        assert_eq!(v["function"], "isolate-instance");
        assert_eq!(v["facts"]["limit"], 3);
        assert_eq!(v["incident"], "2026-11-29T03:00:00Z#abc");
        assert_eq!(v["account"], "111122223333");
        assert_eq!(v["region"], "eu-west-1");
        assert!(b.contains("NEXT STEPS\n  1. Decide whether to isolate it.\n"));
        assert!(b.contains("LINKS\n  - instance i-0123456789abcdef0: https://"));
    }

    #[test]
    fn one_message_for_every_kind_of_subscriber() {
        let n = note("held i-1");
        let place = Scope::new("111122223333", "eu-west-1");
        let m: Value = serde_json::from_str(&message("isolate-instance", &n, &place)).unwrap();
        for key in ["default", "https", "email", "sqs", "lambda", "sms"] {
            assert!(m[key].is_string(), "{key} missing from {m}");
        }
        assert_eq!(m["email"], body("isolate-instance", &n, &place));
        assert_eq!(m["sms"], subject("isolate-instance", &n));
        assert_eq!(m["default"], m["https"]);
        let chat: Value = serde_json::from_str(m["default"].as_str().unwrap()).unwrap();
        assert_eq!(chat["source"], "custom");
    }

    #[test]
    fn chat_document_has_what_the_schema_requires() {
        let mut n = note("held i-1");
        n.body = vec!["x".repeat(10_000)];
        n.next_steps = (0..20).map(|i| format!("step {i}")).collect();
        let c = chat("isolate-instance", &n);
        assert_eq!(c["version"], "1.0");
        assert_eq!(c["source"], "custom");
        assert_eq!(c["content"]["textType"], "client-markdown");
        let title = c["content"]["title"].as_str().unwrap();
        assert!(
            title.contains("[CRITICAL] isolate-instance: held i-1"),
            "{title}"
        );
        assert!(title.chars().count() <= CHAT_TITLE_MAX);
        let description = c["content"]["description"].as_str().unwrap();
        assert!(description.chars().count() <= CHAT_DESCRIPTION_MAX);
        assert!(description.ends_with("..."));
        let steps = c["content"]["nextSteps"].as_array().unwrap();
        assert_eq!(steps.len(), CHAT_NEXT_STEPS_MAX);
        assert_eq!(steps[0], "step 0");
        assert_eq!(
            c["metadata"]["threadId"],
            "tourniquet-2026-11-29T03:00:00Z#abc"
        );
        assert_eq!(c["metadata"]["relatedResources"][0], "i-0123456789abcdef0");
        assert!(
            c["content"]["keywords"]
                .as_array()
                .unwrap()
                .contains(&json!("CRITICAL"))
        );
    }

    #[test]
    fn chat_cannot_be_made_to_mention_or_hide_links() {
        let mut n = note("held i-1");
        n.body = vec!["taint: <!channel> see <https://evil.example|the runbook>".into()];
        let c = chat("isolate-instance", &n).to_string();
        assert!(!c.contains('<') && !c.contains('>'), "{c}");
    }

    #[test]
    fn links_reach_chat_as_next_steps() {
        let c = chat("isolate-instance", &note("held i-1"));
        let steps = c["content"]["nextSteps"].as_array().unwrap();
        assert!(steps.iter().any(|s| s.as_str().unwrap().starts_with(
            "Open instance i-0123456789abcdef0: https://eu-west-1.console.aws.amazon.com/"
        )));
    }
}
