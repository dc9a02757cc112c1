//! The heal-cloudtrail Lambda function.

use anyhow::Context as _;
use heal_cloudtrail::{FUNCTION, Healer};

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    tourniquet::runtime::init_tracing();
    let (fw, _env) = tourniquet::runtime::start(FUNCTION)
        .await
        .context("heal-cloudtrail cannot start")?;
    let healer = Healer::new(&fw);
    tourniquet::runtime::serve(&fw, &healer)
        .await
        .map_err(|e| anyhow::anyhow!(e))
}
