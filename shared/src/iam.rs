//! IAM facts the functions share: policy documents as IAM returns them.

use serde_json::Value;

/// A policy document as `GetRolePolicy` and `GetUserPolicy` return it: URL-encoded JSON
/// (RFC 3986). `None` when it is not JSON once decoded.
pub fn policy_document(encoded: &str) -> Option<Value> {
    serde_json::from_str(&percent_decode(encoded)?).ok()
}

/// RFC 3986 percent-decoding; `None` for bytes that are not UTF-8.
fn percent_decode(encoded: &str) -> Option<String> {
    let bytes = encoded.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = encoded
            .get(i + 1..i + 3)
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (b, hex) {
            (b'%', Some(decoded)) => {
                out.push(decoded);
                i += 3;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_and_plain_documents_decode() {
        let encoded = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%5D%7D";
        assert_eq!(policy_document(encoded).unwrap()["Version"], "2012-10-17");
        assert_eq!(
            policy_document(r#"{"Statement": []}"#).unwrap()["Statement"],
            serde_json::json!([])
        );
        assert!(policy_document("%ZZnot json").is_none());
        assert!(policy_document("%FF").is_none());
    }
}
