//! `INCIDENT` on the command line: the id a notification names (`<opened RFC 3339>#<delivery>`),
//! or a resource (an instance id, a principal's ARN, a trail's ARN) for its latest incident.

use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;
use tourniquet::history::{History, IncidentRecord};

use crate::failure::Failure;

/// What the argument names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Named {
    Incident(String),
    Resource(String),
}

impl Named {
    pub fn parse(text: &str) -> Result<Self, Failure> {
        if text.is_empty() || text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(Failure::Usage(format!(
                "{text:?} names no incident: give the id a notification names \
                 (2026-12-04T03:12:09Z#<delivery>#<hash>) or a resource"
            )));
        }
        match text.split_once('#') {
            Some((opened, delivery))
                if !delivery.is_empty() && DateTime::from_str(opened, Format::DateTime).is_ok() =>
            {
                Ok(Self::Incident(text.to_owned()))
            }
            _ => Ok(Self::Resource(text.to_owned())),
        }
    }
}

/// One incident found in history: its resource and its record.
#[derive(Debug, Clone)]
pub struct Found {
    pub resource: String,
    pub record: IncidentRecord,
}

/// The incident the argument names, read consistently from the table.
pub async fn find(history: &History, text: &str) -> Result<Found, Failure> {
    let unknown =
        |what: String| Failure::Unknown(format!("{what} in history table {}", history.table()));
    match Named::parse(text)? {
        Named::Incident(id) => {
            let resource = match history.resources_of(&id).await?.as_slice() {
                [] => return Err(unknown(format!("no incident {id}"))),
                [one] => one.clone(),
                many => {
                    return Err(Failure::Usage(format!(
                        "{id} names {} incidents (of {}): name the resource instead",
                        many.len(),
                        many.join(", ")
                    )));
                }
            };
            let record = history
                .incident(&resource, &id)
                .await?
                .ok_or_else(|| unknown(format!("no incident {id}")))?;
            Ok(Found { resource, record })
        }
        Named::Resource(resource) => {
            let record = history
                .incidents(&resource)
                .await?
                .pop()
                .ok_or_else(|| unknown(format!("no incident of {resource}")))?;
            Ok(Found { resource, record })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_is_an_instant_and_a_delivery() {
        assert_eq!(
            Named::parse("2026-12-04T03:12:09Z#8c1f#0a1b2c3d").ok(),
            Some(Named::Incident("2026-12-04T03:12:09Z#8c1f#0a1b2c3d".into()))
        );
        for resource in [
            "i-0123456789abcdef0",
            "arn:aws:iam::111122223333:user/mallory",
            "2026-12-04T03:12:09Z#",
            "yesterday#8c1f",
        ] {
            assert_eq!(
                Named::parse(resource).ok(),
                Some(Named::Resource(resource.into()))
            );
        }
        for bad in ["", "i-1 i-2", "i-1\n", "\u{7}"] {
            assert!(
                matches!(Named::parse(bad), Err(Failure::Usage(_))),
                "{bad:?}"
            );
        }
    }
}
