//! Tourniquet's remediation framework.
//!
//! Every function runs the same pipeline ([`pipeline`]): decode the event ([`events`]),
//! verify it against the live state, deduplicate and record ([`history`]), skip exempt
//! principals and resources ([`exempt`]), take a slot in a rolling-window limit
//! ([`safeguard`]), act, and tell a person ([`notify`]). A function only says how to find
//! its cases, how to check one, and how to act on it.

pub mod clients;
pub mod config;
pub mod events;
pub mod exempt;
pub mod history;
pub mod metrics;
pub mod notify;
pub mod pipeline;
pub mod runtime;

pub use config::Env;
pub use events::{Principal, Trigger};
pub use notify::Severity;
pub use pipeline::{
    Case, Context, Framework, Intake, IntakeError, Outcome, Remediation, Step, Subject, Summary,
    Verdict, VerifyError,
};
pub mod safeguard;
