//! Baseline items: the configuration an audit recorded, put back when weakened
//! (`BASELINE#<kind>` / `<name>`).

use std::time::SystemTime;

use serde_json::Value;

use super::{History, HistoryError, condition_failed, s};
use crate::time::rfc3339;

impl History {
    fn baseline_put(
        &self,
        kind: &str,
        name: &str,
        config: &Value,
        now: SystemTime,
    ) -> aws_sdk_dynamodb::operation::put_item::builders::PutItemFluentBuilder {
        self.db
            .put_item()
            .table_name(&self.table)
            .item("pk", s(format!("BASELINE#{kind}")))
            .item("sk", s(name))
            .item("config", s(config.to_string()))
            .item("recorded_at", s(rfc3339(now)))
    }

    /// Keeps the known-good configuration of `name` (a trail's ARN, say) to restore later.
    pub async fn put_baseline(
        &self,
        kind: &str,
        name: &str,
        config: &Value,
        now: SystemTime,
    ) -> Result<(), HistoryError> {
        self.baseline_put(kind, name, config, now)
            .send()
            .await
            .map_err(|e| self.err("PutItem (baseline)", &e))?;
        Ok(())
    }

    /// Keeps `config` under `name` unless something is kept there already, which is then
    /// returned: the first of two concurrent writers wins, and the other learns what won.
    pub async fn put_baseline_once(
        &self,
        kind: &str,
        name: &str,
        config: &Value,
        now: SystemTime,
    ) -> Result<Option<Value>, HistoryError> {
        let result = self
            .baseline_put(kind, name, config, now)
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(None),
            Err(e) if condition_failed(&e) => self.baseline(kind, name).await,
            Err(e) => Err(self.err("PutItem (baseline once)", &e)),
        }
    }

    pub async fn baseline(&self, kind: &str, name: &str) -> Result<Option<Value>, HistoryError> {
        self.get(
            format!("BASELINE#{kind}"),
            name,
            "GetItem (baseline)",
            |item| item.json("config"),
        )
        .await
    }

    /// Every baseline of a kind, by name.
    pub async fn baselines(&self, kind: &str) -> Result<Vec<(String, Value)>, HistoryError> {
        self.partition(
            format!("BASELINE#{kind}"),
            None,
            "Query (baselines)",
            |item| Ok((item.str("sk")?, item.json("config")?)),
        )
        .await
    }
}
