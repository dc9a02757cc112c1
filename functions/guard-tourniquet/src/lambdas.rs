//! Tourniquet's functions: reserved concurrency 0 turns one off without a trace in its
//! logs, and `DRY_RUN=true` makes it report what it would do and do nothing. The settings
//! every function shares are the stack's, and the guard's own environment holds them: a
//! function whose value differs was changed outside the stack.

use std::collections::BTreeMap;

use aws_sdk_lambda::Client;
use aws_sdk_lambda::error::ProvideErrorMetadata;
use serde::{Deserialize, Serialize};
use tourniquet::Step;
use tourniquet::config::Env;
use tourniquet::errors::sdk_message;

/// The history kind of the functions' records.
pub const BASELINE: &str = "guard-function";
/// The variables every function gets from the stack (the template's `Globals`).
pub const SHARED_SETTINGS: &[&str] = &[
    "DRY_RUN",
    "PROTECTED_PRINCIPALS",
    "HISTORY_TABLE",
    "ALERT_TOPIC_ARN",
    "TOURNIQUET_ROLE_ARNS",
    // Which accounts a function acts in: narrowed on one function, an account goes unanswered.
    "MEMBER_ROLE_NAME",
    "MEMBER_EXTERNAL_ID",
    "MEMBER_ACCOUNTS",
    // How long an abandoned incident waits to be resumed: changed on one function, its
    // incidents are resumed under a live invocation, or left open for hours.
    "LEASE_MARGIN_SECONDS",
];

/// The stack's values of the shared settings, from this function's own environment.
pub fn stack_settings(env: &Env) -> BTreeMap<String, String> {
    SHARED_SETTINGS
        .iter()
        .map(|k| ((*k).to_owned(), env.string_or(k, "")))
        .collect()
}

/// A function, as far as running goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunctionRecord {
    pub name: String,
    /// Reserved concurrency; none: unreserved.
    pub concurrency: Option<i32>,
    /// The shared settings, as the function has them.
    pub settings: BTreeMap<String, String>,
}

/// The live function, or `None` when it does not exist.
pub async fn read(lambda: &Client, name: &str) -> Result<Option<FunctionRecord>, String> {
    let (config, concurrency) = tokio::join!(
        lambda
            .get_function_configuration()
            .function_name(name)
            .send(),
        lambda.get_function_concurrency().function_name(name).send()
    );
    let config = match config {
        Ok(c) => c,
        Err(e) if e.code() == Some("ResourceNotFoundException") => return Ok(None),
        Err(e) => {
            return Err(format!(
                "GetFunctionConfiguration {name}: {}",
                sdk_message(&e)
            ));
        }
    };
    let concurrency = match concurrency {
        Ok(c) => c.reserved_concurrent_executions(),
        Err(e) if e.code() == Some("ResourceNotFoundException") => return Ok(None),
        Err(e) => {
            return Err(format!(
                "GetFunctionConcurrency {name}: {}",
                sdk_message(&e)
            ));
        }
    };
    let vars = config
        .environment()
        .and_then(|e| e.variables())
        .cloned()
        .unwrap_or_default();
    Ok(Some(FunctionRecord {
        name: name.to_owned(),
        concurrency,
        settings: SHARED_SETTINGS
            .iter()
            .map(|k| ((*k).to_owned(), vars.get(*k).cloned().unwrap_or_default()))
            .collect(),
    }))
}

impl FunctionRecord {
    /// A reserved concurrency of 0: the function never runs.
    pub fn turned_off(&self) -> bool {
        self.concurrency == Some(0)
    }

    /// What keeps the function from doing its work, in words.
    pub fn losses(&self, stack: &BTreeMap<String, String>) -> Vec<String> {
        let mut found = Vec::new();
        if self.turned_off() {
            found.push(format!(
                "{}: reserved concurrency 0, it never runs",
                self.name
            ));
        }
        for (k, want) in stack {
            let have = self.settings.get(k).map(String::as_str).unwrap_or("");
            if have != want {
                found.push(format!(
                    "{}: {k}={have:?}, the stack's is {want:?}",
                    self.name
                ));
            }
        }
        found
    }
}

/// The reserved concurrency back to what was recorded, or unreserved without a record.
pub async fn restore_concurrency(
    lambda: &Client,
    name: &str,
    record: Option<&FunctionRecord>,
) -> Step {
    match record.and_then(|r| r.concurrency).filter(|n| *n > 0) {
        Some(n) => {
            let put = lambda
                .put_function_concurrency()
                .function_name(name)
                .reserved_concurrent_executions(n)
                .send()
                .await;
            match put {
                Ok(_) => Step::ok(
                    "concurrency",
                    format!("{name}: reserved concurrency {n} again"),
                ),
                Err(e) => Step::critical("concurrency", sdk_message(&e)),
            }
        }
        None => match lambda
            .delete_function_concurrency()
            .function_name(name)
            .send()
            .await
        {
            Ok(_) => Step::ok("concurrency", format!("{name}: unreserved, it runs again")),
            Err(e) => Step::critical("concurrency", sdk_message(&e)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_concurrency_and_a_setting_unlike_the_stacks_are_losses() {
        let stack = BTreeMap::from([("DRY_RUN".to_owned(), "false".to_owned())]);
        let mut f = FunctionRecord {
            name: "iso".into(),
            concurrency: Some(20),
            settings: stack.clone(),
        };
        assert!(f.losses(&stack).is_empty());
        f.concurrency = Some(0);
        f.settings.insert("DRY_RUN".into(), "true".into());
        assert_eq!(
            f.losses(&stack),
            [
                "iso: reserved concurrency 0, it never runs",
                "iso: DRY_RUN=\"true\", the stack's is \"false\""
            ]
        );
    }
}
