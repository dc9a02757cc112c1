//! Where Tourniquet keeps its history and sends its messages: the stack's outputs, or the
//! same variables the functions read.

use aws_config::SdkConfig;

use crate::failure::Failure;

/// The table and topic of one deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    pub table: String,
    pub topic: Option<String>,
}

/// From `--stack NAME` when given, else `HISTORY_TABLE` and `ALERT_TOPIC_ARN`.
pub async fn locate(sdk: &SdkConfig, stack: Option<&str>) -> Result<Place, Failure> {
    match stack {
        Some(name) => from_stack(sdk, name).await,
        None => from_env(|name| std::env::var(name).ok()),
    }
}

/// The two variables a function has, read through `var`.
pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<Place, Failure> {
    let table = var("HISTORY_TABLE")
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| {
            Failure::Usage(
            "no history table: give --stack NAME (the stack Tourniquet was deployed as) or set \
             HISTORY_TABLE"
                .into(),
        )
        })?;
    let topic = var("ALERT_TOPIC_ARN").filter(|t| !t.trim().is_empty());
    Ok(Place { table, topic })
}

async fn from_stack(sdk: &SdkConfig, name: &str) -> Result<Place, Failure> {
    let out = aws_sdk_cloudformation::Client::new(sdk)
        .describe_stacks()
        .stack_name(name)
        .send()
        .await
        .map_err(|e| {
            Failure::Failed(format!(
                "stack {name}: DescribeStacks failed: {}",
                tourniquet::errors::sdk_message(&e)
            ))
        })?;
    let outputs = out
        .stacks()
        .first()
        .map(|s| s.outputs().to_vec())
        .unwrap_or_default();
    let output = |key: &str| {
        outputs
            .iter()
            .find(|o| o.output_key() == Some(key))
            .and_then(|o| o.output_value())
            .map(str::to_owned)
    };
    let table = output("HistoryTableName").ok_or_else(|| {
        Failure::Usage(format!(
            "stack {name} has no output HistoryTableName: is it a Tourniquet stack?"
        ))
    })?;
    Ok(Place {
        table,
        topic: output("AlertTopicArn"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_variables_name_the_table_and_topic() {
        let place = from_env(|n| match n {
            "HISTORY_TABLE" => Some("history".into()),
            "ALERT_TOPIC_ARN" => Some("arn:aws:sns:us-east-1:111122223333:alerts".into()),
            _ => None,
        });
        assert_eq!(
            place.ok(),
            Some(Place {
                table: "history".into(),
                topic: Some("arn:aws:sns:us-east-1:111122223333:alerts".into()),
            })
        );
    }

    #[test]
    fn no_table_is_bad_usage() {
        let failure = from_env(|n| (n == "HISTORY_TABLE").then(|| " ".to_owned()));
        assert!(matches!(failure, Err(Failure::Usage(m)) if m.contains("--stack")));
    }
}
