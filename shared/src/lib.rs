//! Tourniquet's remediation framework.
//!
//! Every function runs the same pipeline; its stages are written once, in [`pipeline`]'s
//! own documentation. A function only says how to find its cases, how to check one, and how
//! to act on it ([`Remediation`]); history is reached through [`ledger`], people through
//! [`notify`].

pub mod arn;
pub mod clients;
pub mod config;
pub mod console;
pub mod contract;
pub mod credentials;
pub mod errors;
pub mod events;
pub mod exempt;
pub mod framework;
pub mod history;
pub mod iam;
pub mod ledger;
pub mod members;
pub mod metrics;
pub mod notify;
pub mod own;
pub mod permissions;
pub mod pipeline;
pub mod refused;
pub mod runtime;
pub mod trust;

pub use config::Env;
pub use contract::{
    Case, Context, Intake, IntakeError, Outcome, Remediation, Step, Subject, Summary, Unavailable,
    Verdict, VerifyError,
};
pub use events::{Principal, Trigger};
pub use framework::Framework;
pub use notify::Severity;
pub mod safeguard;
pub mod time;
