//! What a command prints: text for a person, or with `--json` one JSON object.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    pub text: String,
    pub json: Value,
}

impl Output {
    pub fn render(&self, json: bool) -> String {
        if json {
            self.json.to_string()
        } else {
            self.text.clone()
        }
    }
}
