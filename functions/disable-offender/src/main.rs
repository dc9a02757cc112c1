//! The disable-offender Lambda function.

use anyhow::Context as _;
use disable_offender::{DisableConfig, Disabler, FUNCTION};

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    tourniquet::runtime::init_tracing();
    let (fw, env) = tourniquet::runtime::start(FUNCTION)
        .await
        .context("disable-offender cannot start")?;
    let config = DisableConfig::from_env(&env).context("disable-offender configuration")?;
    let disabler = Disabler::new(&fw, config);
    tourniquet::runtime::serve(&fw, &disabler)
        .await
        .map_err(|e| anyhow::anyhow!(e))
}
