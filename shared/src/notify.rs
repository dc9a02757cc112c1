//! Notifications over SNS, as the contract shapes them: a subject under 100 characters that
//! names the action and the resource, a body a person reads in an e-mail followed by the same
//! facts as JSON, and the message attributes `severity`, `function`, `action`, `resource`
//! that subscriptions filter on (a pager subscribes to `CRITICAL` only).

use aws_sdk_sns::Client;
use aws_sdk_sns::types::MessageAttributeValue;
use serde::Serialize;
use serde_json::Value;

use crate::history::sdk_message;

/// How urgent a notification is. `Critical` means "wake a human".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Severity {
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
}

/// One message about one incident.
#[derive(Debug, Clone, PartialEq)]
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
    /// The same facts, machine-readable.
    pub facts: Value,
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

/// The message body: the readable part, then the facts as JSON.
pub fn body(function: &str, n: &Notification) -> String {
    let mut text = format!(
        "{} - {}\n\n",
        n.severity.as_str(),
        match n.severity {
            Severity::Critical => "a human is needed now",
            Severity::Warning => "look at this soon",
            Severity::Info => "for your information, nothing to do",
        }
    );
    for paragraph in &n.body {
        text.push_str(paragraph);
        text.push_str("\n\n");
    }
    let facts = serde_json::json!({
        "severity": n.severity,
        "function": function,
        "action": n.action,
        "resource": n.resource,
        "facts": n.facts,
    });
    text.push_str("-- facts (JSON) --\n");
    text.push_str(&serde_json::to_string_pretty(&facts).unwrap_or_else(|_| facts.to_string()));
    text.push('\n');
    text
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
}

impl Notifier {
    pub fn new(sns: Client, topic_arn: impl Into<String>, function: &'static str) -> Self {
        Self {
            sns,
            topic_arn: topic_arn.into(),
            function,
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
        let mut publish = self
            .sns
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(subject(self.function, n))
            .message(body(self.function, n));
        for (name, value) in [
            ("severity", n.severity.as_str()),
            ("function", self.function),
            ("action", n.action.as_str()),
            ("resource", resource),
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
            facts: json!({"limit": 3}),
        }
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
        let b = body("isolate-instance", &note("held i-1"));
        assert!(b.starts_with("CRITICAL - a human is needed now\n\nThe safeguard held.\n\n"));
        let (_, json_part) = b.split_once("-- facts (JSON) --\n").unwrap();
        let v: Value = serde_json::from_str(json_part).unwrap();
        assert_eq!(v["severity"], "CRITICAL");
        assert_eq!(v["function"], "isolate-instance");
        assert_eq!(v["facts"]["limit"], 3);
    }
}
