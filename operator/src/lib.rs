//! The operator's command, `tourniquet`: what Tourniquet did, read from its history with the
//! operator's own credentials. One module per command; the binary only parses and prints.

pub mod args;
pub mod failure;
mod incidents;
pub mod output;
pub mod place;
mod show;
pub mod span;
pub mod target;

use std::time::SystemTime;

use aws_config::SdkConfig;
use tourniquet::history::History;

use crate::args::{Cli, Command};
use crate::failure::Failure;
use crate::output::Output;

/// Runs one command with the operator's SDK configuration.
pub async fn run(cli: &Cli, sdk: &SdkConfig) -> Result<Output, Failure> {
    let place = place::locate(sdk, cli.stack.as_deref()).await?;
    let history = History::new(aws_sdk_dynamodb::Client::new(sdk), &place.table);
    match &cli.command {
        Command::Incidents(listing) => incidents::list(&history, listing, SystemTime::now()).await,
        Command::Show { incident } => show::show(&history, incident).await,
    }
}

#[cfg(test)]
mod tests {
    /// The template's index is the one the code reads: its name, keys and projection.
    #[test]
    fn the_template_defines_the_index_the_listing_reads() {
        let template = include_str!("../../template.yaml");
        let index = format!("- IndexName: {}", tourniquet::history::INCIDENTS_BY_DAY);
        assert!(template.contains(&index), "{index}");
        let projected = format!(
            "NonKeyAttributes: [{}]",
            tourniquet::history::PROJECTED.join(", ")
        );
        assert!(template.contains(&projected), "{projected}");
        assert!(template.contains("- {AttributeName: day, KeyType: HASH}"));
    }
}
