//! A notification SNS refused does not vanish. The pager remembers what it could not send;
//! the invocation keeps each one (WARNING and above) on its resource's lock and answers an
//! error, so that Lambda's retry of the delivery finds it there and sends it.

use std::sync::Mutex;

use crate::notify::Pager;
use crate::notify::{Notification, NotifyError, Severity};

/// A pager that remembers the notifications it could not send.
pub struct Unsent<'a, P> {
    inner: &'a P,
    refused: Mutex<Vec<Notification>>,
}

impl<'a, P: Pager> Unsent<'a, P> {
    pub fn new(inner: &'a P) -> Self {
        Self {
            inner,
            refused: Mutex::new(Vec::new()),
        }
    }

    /// The refused notifications a person must get: WARNING and above.
    pub fn refused(self) -> Vec<Notification> {
        self.refused
            .into_inner()
            .unwrap_or_else(|e| e.into_inner())
            .into_iter()
            .filter(|n| n.severity >= Severity::Warning)
            .collect()
    }
}

impl<P: Pager> Pager for Unsent<'_, P> {
    fn defers(&self, n: &Notification) -> bool {
        self.inner.defers(n)
    }

    async fn page(&self, n: &Notification) -> Result<(), NotifyError> {
        let result = self.inner.page(n).await;
        if result.is_err() {
            self.refused
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(n.clone());
        }
        result
    }
}
