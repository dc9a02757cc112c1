//! Clients of one kind for every scope acted in, each built once per process: the home
//! scope's at the cold start, a member's on its first case.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_config::SdkConfig;

use super::{Members, Refusal, Scope};

/// Clients of one kind for every scope acted in, each built once per process.
pub struct PerScope<C> {
    members: Arc<Members>,
    make: fn(&SdkConfig) -> C,
    built: Mutex<HashMap<Scope, C>>,
}

impl<C: Clone> PerScope<C> {
    /// The home scope's clients are built now, from `sdk`.
    pub fn new(members: Arc<Members>, sdk: &SdkConfig, make: fn(&SdkConfig) -> C) -> Self {
        let home = HashMap::from([(members.home().clone(), make(sdk))]);
        Self {
            members,
            make,
            built: Mutex::new(home),
        }
    }

    /// The clients that act in `scope`, or why Tourniquet may not act there.
    pub async fn get(&self, scope: &Scope) -> Result<C, Refusal> {
        if let Some(c) = self.built.lock().ok().and_then(|b| b.get(scope).cloned()) {
            return Ok(c);
        }
        let sdk = self.members.sdk_in(scope).await?;
        let clients = (self.make)(&sdk);
        if let Ok(mut built) = self.built.lock() {
            built.insert(scope.clone(), clients.clone());
        }
        Ok(clients)
    }

    /// The clients that act on what `key` names (an ARN or an id `account/region/...`):
    /// its account's, in its region.
    pub async fn for_key(&self, key: &str) -> Result<C, Refusal> {
        let scope = self.members.scope_of_key(key);
        self.get(&scope).await
    }

    /// The home scope's clients.
    pub fn home(&self) -> C {
        let home = self.members.home();
        match self.built.lock().ok().and_then(|b| b.get(home).cloned()) {
            Some(c) => c,
            None => (self.make)(&self.members.base),
        }
    }

    pub fn members(&self) -> &Members {
        &self.members
    }
}

impl<C> std::fmt::Debug for PerScope<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PerScope")
            .field("home", self.members.home())
            .finish_non_exhaustive()
    }
}
