//! How selectors record less than a baseline's, and the selectors a call asks for.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::selectors::{Access, Advanced, Basic, Field, Selectors};

/// Words for a set of management event kinds.
fn describe(a: &BTreeSet<Access>) -> &'static str {
    match (a.contains(&Access::Read), a.contains(&Access::Write)) {
        (true, true) => "all",
        (true, false) => "read-only",
        (false, true) => "write-only",
        (false, false) => "no",
    }
}

impl Selectors {
    /// One classic selector recording every management event, and nothing else.
    pub fn every_management_event() -> Self {
        Self {
            basic: vec![Basic {
                read_write: "All".to_owned(),
                management: true,
                data: Vec::new(),
                exclude_sources: Vec::new(),
            }],
            advanced: Vec::new(),
        }
    }

    /// How these selectors record less than `baseline`'s: fewer management events, data
    /// resources dropped, event sources excluded or management limited to some sources.
    pub fn narrower_than(&self, baseline: &Self) -> Vec<String> {
        let mut found = Vec::new();
        let (was, now) = (baseline.management(), self.management());
        if !was.is_subset(&now) {
            found.push(format!(
                "management events narrowed from {} to {}",
                describe(&was),
                describe(&now)
            ));
        }
        let missing = baseline
            .data_resources()
            .difference(&self.data_resources())
            .count();
        if missing > 0 {
            found.push(format!("{missing} data event resource(s) dropped"));
        }
        let excluded: Vec<&str> = self
            .excluded_sources()
            .difference(&baseline.excluded_sources())
            .copied()
            .collect();
        if !excluded.is_empty() {
            found.push(format!(
                "management events from {} excluded",
                excluded.join(", ")
            ));
        }
        let dropped = baseline
            .advanced_data()
            .filter(|a| !self.advanced.contains(a))
            .count();
        if dropped > 0 {
            found.push(format!(
                "{dropped} advanced data event selector(s) dropped or changed"
            ));
        }
        let (was, now) = (baseline.only_sources(), self.only_sources());
        if !now.is_empty() && now != was {
            found.push(format!(
                "management events limited to {}",
                now.into_iter().collect::<Vec<_>>().join(", ")
            ));
        }
        found
    }
}

impl Selectors {
    /// The selectors a `PutEventSelectors` call asks for, from its request parameters.
    pub fn from_request(request: &Value) -> Option<Self> {
        let basic = request
            .get("eventSelectors")
            .and_then(Value::as_array)
            .map(|list| list.iter().map(basic_of).collect());
        let advanced = request
            .get("advancedEventSelectors")
            .and_then(Value::as_array)
            .map(|list| list.iter().map(advanced_of).collect());
        if basic.is_none() && advanced.is_none() {
            return None;
        }
        Some(Self {
            basic: basic.unwrap_or_default(),
            advanced: advanced.unwrap_or_default(),
        })
    }
}

/// The strings of a request's list; anything else in it is not a string and is skipped.
fn strings(v: &Value, key: &str) -> Vec<String> {
    v.get(key)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn text(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// One classic selector of a request, with CloudTrail's defaults for what it leaves out.
fn basic_of(s: &Value) -> Basic {
    let data = s
        .get("dataResources")
        .and_then(Value::as_array)
        .map(|d| {
            d.iter()
                .map(|r| (text(r, "type"), strings(r, "values")))
                .collect()
        })
        .unwrap_or_default();
    Basic {
        read_write: s
            .get("readWriteType")
            .and_then(Value::as_str)
            .unwrap_or("All")
            .to_owned(),
        management: s
            .get("includeManagementEvents")
            .and_then(Value::as_bool)
            .unwrap_or(true),
        data,
        exclude_sources: strings(s, "excludeManagementEventSources"),
    }
}

/// One advanced selector of a request.
fn advanced_of(a: &Value) -> Advanced {
    let fields = a
        .get("fieldSelectors")
        .and_then(Value::as_array)
        .map(|f| f.iter().map(field_of).collect())
        .unwrap_or_default();
    Advanced {
        name: a.get("name").and_then(Value::as_str).map(str::to_owned),
        fields,
    }
}

fn field_of(f: &Value) -> Field {
    Field {
        field: text(f, "field"),
        equals: strings(f, "equals"),
        starts_with: strings(f, "startsWith"),
        ends_with: strings(f, "endsWith"),
        not_equals: strings(f, "notEquals"),
        not_starts_with: strings(f, "notStartsWith"),
        not_ends_with: strings(f, "notEndsWith"),
    }
}
