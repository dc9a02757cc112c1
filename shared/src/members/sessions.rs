//! A member role's credentials, assumed once per account and remembered until shortly
//! before they expire; concurrent cases wait for one renewal instead of assuming again.

use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use aws_config::sts::AssumeRoleProvider;
use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, error::CredentialsError, future};

/// Assumed-role credentials kept until five minutes before they expire, so that one
/// `AssumeRole` serves every client of an account and the check made before acting.
#[derive(Debug)]
pub(super) struct Remembered {
    role: AssumeRoleProvider,
    last: Mutex<Option<Credentials>>,
    /// One renewal at a time per account: concurrent cases wait for it, not assume again.
    renewing: tokio::sync::Mutex<()>,
}

/// How long before expiry remembered credentials are renewed.
const RENEW_BEFORE: Duration = Duration::from_secs(300);

impl Remembered {
    pub(super) fn new(role: AssumeRoleProvider) -> Self {
        Self {
            role,
            last: Mutex::new(None),
            renewing: tokio::sync::Mutex::new(()),
        }
    }

    fn fresh(&self) -> Option<Credentials> {
        let last = self.last.lock().ok()?.clone()?;
        match last.expiry() {
            Some(at) if at <= SystemTime::now() + RENEW_BEFORE => None,
            _ => Some(last),
        }
    }

    async fn get(&self) -> Result<Credentials, CredentialsError> {
        if let Some(c) = self.fresh() {
            return Ok(c);
        }
        let _turn = self.renewing.lock().await;
        if let Some(c) = self.fresh() {
            return Ok(c);
        }
        let c = self.role.provide_credentials().await?;
        if let Ok(mut last) = self.last.lock() {
            *last = Some(c.clone());
        }
        Ok(c)
    }
}

impl ProvideCredentials for Remembered {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(self.get())
    }
}
