//! `tourniquet`: parse, run, print; the exit status says how it went (0 done, 1 refused or
//! failed, 2 bad usage or input).

use std::process::ExitCode;

use clap::Parser;
use tourniquet_operator::args::Cli;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let sdk = tourniquet::clients::load().await;
    match tourniquet_operator::run(&cli, &sdk).await {
        Ok(output) => {
            println!("{}", output.render(cli.json));
            ExitCode::SUCCESS
        }
        Err(failure) => {
            eprintln!("tourniquet: {failure}");
            ExitCode::from(failure.exit_status())
        }
    }
}
