//! The command line, as `../README.md` "Operating Tourniquet" describes it. Bad usage exits
//! with status 2 before anything is read.

use clap::{Args, Parser, Subcommand, ValueEnum};

/// For the person a notification woke: what Tourniquet did, and the decisions it left.
#[derive(Debug, Parser)]
#[command(name = "tourniquet", version)]
pub struct Cli {
    /// The stack Tourniquet was deployed as: its outputs name the table and topic. Without
    /// it, HISTORY_TABLE and ALERT_TOPIC_ARN do.
    #[arg(long, global = true)]
    pub stack: Option<String>,
    /// Print one JSON object instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Recent incidents, newest first, one line each.
    Incidents(Listing),
    /// One incident's whole story.
    Show {
        /// The id a notification names, or a resource for its latest incident.
        incident: String,
    },
}

#[derive(Debug, Args)]
pub struct Listing {
    /// Only incidents still waiting for something: in progress, held, partial or failed.
    #[arg(long)]
    pub open: bool,
    /// How far back: minutes, hours or days (`90m`, `24h`, `7d`).
    #[arg(long, default_value = "24h")]
    pub since: String,
    /// Only one remediation's incidents.
    #[arg(long, value_enum)]
    pub action: Option<Action>,
}

/// The remediations, by the name their incidents record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Action {
    Isolate,
    Heal,
    Disable,
    Restore,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Isolate => "isolate",
            Self::Heal => "heal",
            Self::Disable => "disable",
            Self::Restore => "restore",
        }
    }
}
