//! The trail model: what a CloudTrail trail is (its configuration, log bucket and KMS key,
//! as history keeps them) and what weakens it, judged two ways: a live trail against its
//! baseline ([`weaknesses`], pure) and one call from the call alone ([`weakenings_of`]).
//! heal-cloudtrail heals by it, disable-offender counts offenses by it, guard-tourniquet
//! reads and heals its own key with [`key`]; none of them depends on another.

pub mod bucket;
pub mod config;
pub mod key;
pub mod name;
pub mod narrower;
pub mod policy;
pub mod selectors;
pub mod settings;
pub mod touched;
pub mod weakenings;

pub use config::TrailConfig;
pub use name::{TrailRef, is_region, is_trail_name};
pub use selectors::{Access, Advanced, Basic, Field, Selectors};
pub use settings::{SETTINGS, Setting, SettingValue, Weakens, weaknesses};
pub use weakenings::weakenings_of;

#[cfg(test)]
mod tests;
