//! The Lambda entry point every function shares: start once, then serve events.

use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use serde_json::Value;

use crate::config::Env;
use crate::contract::Remediation;
use crate::framework::{Framework, StartupError};
use crate::pipeline;

/// JSON logs when Lambda's log format is JSON (`AWS_LAMBDA_LOG_FORMAT`), text otherwise.
pub fn init_tracing() {
    lambda_runtime::tracing::init_default_subscriber();
}

/// Reads the environment and starts the framework. A missing or invalid variable, or an
/// identity that cannot be learned, stops the cold start with a message that names it.
pub async fn start(function: &'static str) -> Result<(Framework, Env), StartupError> {
    let env = Env::from_process();
    let sdk = crate::clients::load().await;
    let fw = Framework::start(function, &env, sdk).await?;
    tracing::info!(
        function,
        identity = %fw.identity,
        dry_run = fw.config.dry_run,
        "started"
    );
    Ok((fw, env))
}

/// Serves events until the runtime stops. Input that cannot be processed is logged and
/// answered with a function error; every handled case answers with its summary.
pub async fn serve<R: Remediation>(
    fw: &Framework,
    remediation: &R,
) -> Result<(), lambda_runtime::Error> {
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async move {
        let deadline = deadline_of(event.context.deadline);
        let handled = pipeline::handle_until(
            fw,
            remediation,
            &event.payload,
            &event.context.request_id,
            deadline,
        )
        .await;
        match handled {
            Ok(summary) => serde_json::to_value(summary).map_err(|e| Diagnostic {
                error_type: "UnreportableSummary".into(),
                error_message: e.to_string(),
            }),
            Err(e) => {
                tracing::error!(error = %e, "invocation failed");
                Err(Diagnostic::from(e))
            }
        }
    }))
    .await
}

/// The invocation's deadline from the runtime's epoch milliseconds. One already past when the
/// event arrives is no deadline at all (a local runtime may send a relative figure): it is
/// ignored rather than leaving no time to act.
fn deadline_of(epoch_ms: u64) -> Option<std::time::SystemTime> {
    let deadline = std::time::UNIX_EPOCH + std::time::Duration::from_millis(epoch_ms);
    if deadline > std::time::SystemTime::now() {
        Some(deadline)
    } else {
        tracing::warn!(
            epoch_ms,
            "the runtime's deadline has already passed: ignored"
        );
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    #[test]
    fn a_deadline_already_past_is_ignored() {
        assert_eq!(
            deadline_of(600_000),
            None,
            "ten minutes after 1970 is not a deadline"
        );
        let soon = SystemTime::now() + Duration::from_secs(60);
        let ms = soon.duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
        let got = deadline_of(ms).expect("a deadline ahead");
        assert!(got <= soon && soon.duration_since(got).unwrap() < Duration::from_millis(1));
    }
}
