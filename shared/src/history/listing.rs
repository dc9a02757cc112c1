//! Incidents listed without scanning the table. Every incident item carries `day`, the UTC
//! date its id begins with; the sparse index `by-day` keys on it (hash) and on `sk` (range),
//! so "what happened since yesterday" is one query per day, newest first, and an id from a
//! notification finds its resource without knowing it. Only incident items have `day`: the
//! index holds nothing else, and costs one write unit per incident write that changes one of
//! its projected attributes.

use super::{History, HistoryError, Item, s};

/// The index of incidents by the day they opened.
pub const INCIDENTS_BY_DAY: &str = "by-day";
/// The attribute the index keys on.
pub(crate) const DAY: &str = "day";
/// The attributes the index projects besides the keys: what a listing line shows.
pub const PROJECTED: [&str; 9] = [
    "status",
    "function",
    "action",
    "trigger",
    "actor",
    "account",
    "region",
    "opened_at",
    "closed_at",
];

/// The day an incident opened, from its id (`<RFC 3339>#<delivery>`): its date.
pub fn day_of(id: &str) -> &str {
    id.get(..10).unwrap_or(id)
}

/// One incident as a listing shows it: what the index projects.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct IncidentLine {
    pub id: String,
    pub resource: String,
    pub action: String,
    pub function: String,
    pub status: String,
    pub account: Option<String>,
    pub region: Option<String>,
    pub trigger: String,
    pub actor: Option<String>,
    pub opened_at: Option<String>,
    pub closed_at: Option<String>,
}

impl IncidentLine {
    fn decode(item: &Item<'_>) -> Result<Self, HistoryError> {
        let pk = item.str("pk")?;
        let resource = pk
            .strip_prefix("INCIDENT#")
            .ok_or_else(|| item.malformed("an item of the incident index is no incident".into()))?;
        Ok(Self {
            id: item.str("sk")?,
            resource: resource.to_owned(),
            action: item.str("action")?,
            function: item.str("function")?,
            status: item.str("status")?,
            account: item.opt_str("account"),
            region: item.opt_str("region"),
            trigger: item.str("trigger")?,
            actor: item.opt_str("actor"),
            opened_at: item.opt_str("opened_at"),
            closed_at: item.opt_str("closed_at"),
        })
    }
}

impl History {
    /// The incidents opened on `day` (`YYYY-MM-DD`) whose ids sort at or after `from`,
    /// newest first. Reads only that day's entries of the index.
    pub async fn incidents_on(
        &self,
        day: &str,
        from: &str,
    ) -> Result<Vec<IncidentLine>, HistoryError> {
        let pages: Vec<_> = self
            .db
            .query()
            .table_name(&self.table)
            .index_name(INCIDENTS_BY_DAY)
            .key_condition_expression("#day = :day AND sk >= :from")
            .expression_attribute_names("#day", DAY)
            .expression_attribute_values(":day", s(day))
            .expression_attribute_values(":from", s(from))
            .scan_index_forward(false)
            .into_paginator()
            .items()
            .send()
            .collect()
            .await;
        pages
            .into_iter()
            .map(|r| {
                let map = r.map_err(|e| self.err("Query (incidents by day)", &e))?;
                IncidentLine::decode(&self.item(&map))
            })
            .collect()
    }

    /// The resources whose incident is `id`, from the index: one, or none when no incident
    /// has it (two only if two resources of one event share the key's hash).
    pub async fn resources_of(&self, id: &str) -> Result<Vec<String>, HistoryError> {
        let out = self
            .db
            .query()
            .table_name(&self.table)
            .index_name(INCIDENTS_BY_DAY)
            .key_condition_expression("#day = :day AND sk = :id")
            .expression_attribute_names("#day", DAY)
            .expression_attribute_values(":day", s(day_of(id)))
            .expression_attribute_values(":id", s(id))
            .send()
            .await
            .map_err(|e| self.err("Query (incident by id)", &e))?;
        out.items()
            .iter()
            .map(|map| IncidentLine::decode(&self.item(map)).map(|line| line.resource))
            .collect()
    }
}
