//! The isolate-instance Lambda function.

use anyhow::Context as _;
use isolate_instance::{FUNCTION, IsolateConfig, Isolator};

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    tourniquet::runtime::init_tracing();
    let (fw, env) = tourniquet::runtime::start(FUNCTION)
        .await
        .context("isolate-instance cannot start")?;
    let config = IsolateConfig::from_env(&env).context("isolate-instance configuration")?;
    let isolator = Isolator::new(&fw, config);
    tourniquet::runtime::serve(&fw, &isolator)
        .await
        .map_err(|e| anyhow::anyhow!(e))
}
