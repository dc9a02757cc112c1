//! Typed reads of an event's JSON: every field checked for presence and type, every list
//! for length, and each error naming the field by its path.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// The most items any list in an event may hold. `CreateTags` accepts at most 1000 resource
/// ids; anything longer is not an event AWS produced.
pub const MAX_ITEMS: usize = 1000;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EventError {
    #[error("the event must be a JSON object, found {0}")]
    NotAnObject(&'static str),
    #[error(
        "unrecognised event: neither an EventBridge event (`detail-type`) nor a direct invocation (`instance_ids`)"
    )]
    Unrecognised,
    #[error("unsupported event: detail-type {0:?}")]
    UnsupportedDetailType(String),
    #[error("missing field `{0}`")]
    Missing(String),
    #[error("field `{field}` must be {expected}, found {found}")]
    WrongType {
        field: String,
        expected: &'static str,
        found: &'static str,
    },
    #[error("field `{field}` holds {count} items, more than the {max} allowed")]
    TooMany {
        field: String,
        count: usize,
        max: usize,
    },
    #[error("field `{field}` is invalid: {reason}")]
    Invalid { field: String, reason: String },
}

pub(crate) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A JSON object with the path it was reached by, for typed, path-named access.
#[derive(Clone, Copy)]
pub struct Fields<'a> {
    path: &'a str,
    map: &'a Map<String, Value>,
}

/// A path-named view of a JSON value that must be an object.
pub fn fields<'a>(path: &'a str, value: &'a Value) -> Result<Fields<'a>, EventError> {
    match value {
        Value::Object(map) => Ok(Fields { path, map }),
        other => Err(EventError::WrongType {
            field: path.to_owned(),
            expected: "an object",
            found: kind(other),
        }),
    }
}

impl<'a> Fields<'a> {
    fn path_of(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    /// The value at `key`; absent and `null` are both `None`.
    pub fn opt_value(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    pub fn value(&self, key: &str) -> Result<&'a Value, EventError> {
        self.opt_value(key)
            .ok_or_else(|| EventError::Missing(self.path_of(key)))
    }

    fn wrong(&self, key: &str, expected: &'static str, v: &Value) -> EventError {
        EventError::WrongType {
            field: self.path_of(key),
            expected,
            found: kind(v),
        }
    }

    pub fn opt_str(&self, key: &str) -> Result<Option<&'a str>, EventError> {
        match self.opt_value(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(v) => Err(self.wrong(key, "a string", v)),
        }
    }

    /// A required, non-empty string.
    pub fn str(&self, key: &str) -> Result<&'a str, EventError> {
        match self.opt_str(key)? {
            Some(s) if !s.trim().is_empty() => Ok(s),
            Some(_) => Err(EventError::Invalid {
                field: self.path_of(key),
                reason: "must not be empty".to_owned(),
            }),
            None => Err(EventError::Missing(self.path_of(key))),
        }
    }

    pub fn opt_bool(&self, key: &str) -> Result<Option<bool>, EventError> {
        match self.opt_value(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(v) => Err(self.wrong(key, "a boolean", v)),
        }
    }

    /// The object at `key`; the returned view names its fields under `path`, which the caller
    /// builds once (`Fields::child_path`) so that errors carry the full path.
    pub fn obj(&self, key: &str, path: &'a str) -> Result<Fields<'a>, EventError> {
        let v = self.value(key)?;
        fields(path, v)
    }

    pub fn opt_obj(&self, key: &str, path: &'a str) -> Result<Option<Fields<'a>>, EventError> {
        self.opt_value(key).map(|v| fields(path, v)).transpose()
    }

    pub fn child_path(&self, key: &str) -> String {
        self.path_of(key)
    }

    /// The array at `key` (absent or null: empty), at most `MAX_ITEMS` long.
    pub fn opt_array(&self, key: &str) -> Result<&'a [Value], EventError> {
        match self.opt_value(key) {
            None => Ok(&[]),
            Some(Value::Array(items)) if items.len() > MAX_ITEMS => Err(EventError::TooMany {
                field: self.path_of(key),
                count: items.len(),
                max: MAX_ITEMS,
            }),
            Some(Value::Array(items)) => Ok(items),
            Some(v) => Err(self.wrong(key, "an array", v)),
        }
    }

    /// An array of strings (absent or null: empty), at most `MAX_ITEMS` long.
    pub fn str_list(&self, key: &str) -> Result<Vec<String>, EventError> {
        self.opt_array(key)?
            .iter()
            .enumerate()
            .map(|(i, v)| match v {
                Value::String(s) => Ok(s.clone()),
                other => Err(EventError::WrongType {
                    field: format!("{}[{i}]", self.path_of(key)),
                    expected: "a string",
                    found: kind(other),
                }),
            })
            .collect()
    }

    /// Every key of this object, mapped to its string value.
    pub fn string_map(&self) -> Result<BTreeMap<String, String>, EventError> {
        if self.map.len() > MAX_ITEMS {
            return Err(EventError::TooMany {
                field: self.path.to_owned(),
                count: self.map.len(),
                max: MAX_ITEMS,
            });
        }
        self.map
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.clone(), s.clone())),
                other => Err(self.wrong(k, "a string", other)),
            })
            .collect()
    }
}
