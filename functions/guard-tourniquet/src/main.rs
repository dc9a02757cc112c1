//! The guard-tourniquet Lambda function.

use anyhow::Context as _;
use guard_tourniquet::{FUNCTION, Guard, GuardConfig};

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    tourniquet::runtime::init_tracing();
    let (fw, env) = tourniquet::runtime::start(FUNCTION)
        .await
        .context("guard-tourniquet cannot start")?;
    let config = GuardConfig::from_env(&env).context("guard-tourniquet configuration")?;
    let guard = Guard::new(&fw, config);
    tourniquet::runtime::serve(&fw, &guard)
        .await
        .map_err(|e| anyhow::anyhow!(e))
}
