//! A trail's event selectors, classic or advanced, as history keeps them and the SDK
//! takes them back.

use std::collections::BTreeSet;

use aws_sdk_cloudtrail::types::{
    AdvancedEventSelector, AdvancedFieldSelector, DataResource, EventSelector, ReadWriteType,
};
use serde::{Deserialize, Serialize};

/// One classic event selector.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Basic {
    pub read_write: String,
    pub management: bool,
    pub data: Vec<(String, Vec<String>)>,
    pub exclude_sources: Vec<String>,
}

/// One field of an advanced event selector.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Field {
    pub field: String,
    pub equals: Vec<String>,
    pub starts_with: Vec<String>,
    pub ends_with: Vec<String>,
    pub not_equals: Vec<String>,
    pub not_starts_with: Vec<String>,
    pub not_ends_with: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Advanced {
    pub name: Option<String>,
    pub fields: Vec<Field>,
}

/// A trail's event selectors: classic or advanced (a trail has one kind or the other).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Selectors {
    pub basic: Vec<Basic>,
    pub advanced: Vec<Advanced>,
}

/// Which management events a trail records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Access {
    Read,
    Write,
}

impl Selectors {
    pub fn from_sdk(basic: &[EventSelector], advanced: &[AdvancedEventSelector]) -> Self {
        Self {
            basic: basic
                .iter()
                .map(|s| Basic {
                    read_write: s
                        .read_write_type()
                        .map(|r| r.as_str().to_owned())
                        .unwrap_or_else(|| "All".to_owned()),
                    management: s.include_management_events().unwrap_or(true),
                    data: s
                        .data_resources()
                        .iter()
                        .map(|d| {
                            (
                                d.r#type().unwrap_or_default().to_owned(),
                                d.values().to_vec(),
                            )
                        })
                        .collect(),
                    exclude_sources: s.exclude_management_event_sources().to_vec(),
                })
                .collect(),
            advanced: advanced
                .iter()
                .map(|a| Advanced {
                    name: a.name().map(str::to_owned),
                    fields: a
                        .field_selectors()
                        .iter()
                        .map(|f| Field {
                            field: f.field().to_owned(),
                            equals: f.equals().to_vec(),
                            starts_with: f.starts_with().to_vec(),
                            ends_with: f.ends_with().to_vec(),
                            not_equals: f.not_equals().to_vec(),
                            not_starts_with: f.not_starts_with().to_vec(),
                            not_ends_with: f.not_ends_with().to_vec(),
                        })
                        .collect(),
                })
                .collect(),
        }
    }

    pub fn to_sdk_basic(&self) -> Vec<EventSelector> {
        self.basic
            .iter()
            .map(|b| {
                EventSelector::builder()
                    .read_write_type(ReadWriteType::from(b.read_write.as_str()))
                    .include_management_events(b.management)
                    .set_data_resources(Some(
                        b.data
                            .iter()
                            .map(|(t, v)| {
                                DataResource::builder()
                                    .r#type(t)
                                    .set_values(Some(v.clone()))
                                    .build()
                            })
                            .collect(),
                    ))
                    .set_exclude_management_event_sources(Some(b.exclude_sources.clone()))
                    .build()
            })
            .collect()
    }

    pub fn to_sdk_advanced(&self) -> Result<Vec<AdvancedEventSelector>, String> {
        self.advanced
            .iter()
            .map(|a| {
                let fields = a
                    .fields
                    .iter()
                    .map(|f| {
                        AdvancedFieldSelector::builder()
                            .field(&f.field)
                            .set_equals(non_empty(&f.equals))
                            .set_starts_with(non_empty(&f.starts_with))
                            .set_ends_with(non_empty(&f.ends_with))
                            .set_not_equals(non_empty(&f.not_equals))
                            .set_not_starts_with(non_empty(&f.not_starts_with))
                            .set_not_ends_with(non_empty(&f.not_ends_with))
                            .build()
                            .map_err(|e| e.to_string())
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                AdvancedEventSelector::builder()
                    .set_name(a.name.clone())
                    .set_field_selectors(Some(fields))
                    .build()
                    .map_err(|e| e.to_string())
            })
            .collect()
    }

    /// The management events recorded: read, write, both or none.
    pub fn management(&self) -> BTreeSet<Access> {
        let mut access = BTreeSet::new();
        for b in self.basic.iter().filter(|b| b.management) {
            match b.read_write.as_str() {
                "ReadOnly" => {
                    access.insert(Access::Read);
                }
                "WriteOnly" => {
                    access.insert(Access::Write);
                }
                _ => {
                    access.extend([Access::Read, Access::Write]);
                }
            }
        }
        for a in self.advanced_management() {
            match a
                .fields
                .iter()
                .find(|f| f.field == "readOnly")
                .and_then(|f| f.equals.first())
                .map(String::as_str)
            {
                Some("true") => {
                    access.insert(Access::Read);
                }
                Some("false") => {
                    access.insert(Access::Write);
                }
                _ => {
                    access.extend([Access::Read, Access::Write]);
                }
            }
        }
        access
    }

    pub(crate) fn data_resources(&self) -> BTreeSet<(String, String)> {
        self.basic
            .iter()
            .flat_map(|b| {
                b.data
                    .iter()
                    .flat_map(|(t, vs)| vs.iter().map(move |v| (t.clone(), v.clone())))
            })
            .collect()
    }

    /// The advanced selectors that record management events.
    fn advanced_management(&self) -> impl Iterator<Item = &Advanced> {
        self.advanced.iter().filter(|a| {
            a.fields
                .iter()
                .any(|f| f.field == "eventCategory" && f.equals.iter().any(|v| v == "Management"))
        })
    }

    /// The advanced selectors that record data events (any that is not for management).
    pub(crate) fn advanced_data(&self) -> impl Iterator<Item = &Advanced> {
        let management: Vec<&Advanced> = self.advanced_management().collect();
        self.advanced
            .iter()
            .filter(move |a| !management.contains(a))
    }

    /// The `eventSource` field of an advanced selector.
    fn event_source(a: &Advanced) -> Option<&Field> {
        a.fields.iter().find(|f| f.field == "eventSource")
    }

    /// Event sources whose management events are excluded: by a classic selector's
    /// exclusions, or an advanced selector's `NotEquals`/`NotStartsWith`/`NotEndsWith`.
    pub(crate) fn excluded_sources(&self) -> BTreeSet<&str> {
        let basic = self
            .basic
            .iter()
            .filter(|b| b.management)
            .flat_map(|b| b.exclude_sources.iter().map(String::as_str));
        let advanced = self
            .advanced_management()
            .filter_map(Self::event_source)
            .flat_map(|f| {
                f.not_equals
                    .iter()
                    .chain(&f.not_starts_with)
                    .chain(&f.not_ends_with)
                    .map(String::as_str)
            });
        basic.chain(advanced).collect()
    }

    /// Event sources an advanced selector limits management events to (`Equals`,
    /// `StartsWith`, `EndsWith` on `eventSource`): every other source is left out. Empty
    /// when no selector limits them.
    pub(crate) fn only_sources(&self) -> BTreeSet<&str> {
        self.advanced_management()
            .filter_map(Self::event_source)
            .flat_map(|f| {
                f.equals
                    .iter()
                    .chain(&f.starts_with)
                    .chain(&f.ends_with)
                    .map(String::as_str)
            })
            .collect()
    }
}

fn non_empty(v: &[String]) -> Option<Vec<String>> {
    (!v.is_empty()).then(|| v.to_vec())
}
