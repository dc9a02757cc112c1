//! Where notifications go: the pager port the pipeline sends through, SNS behind it, and
//! the in-memory twin its unit tests read.

use std::future::Future;

use super::{Notification, Notifier, NotifyError};

/// Where notifications go.
pub trait Pager: Sync {
    fn page(&self, n: &Notification) -> impl Future<Output = Result<(), NotifyError>> + Send;
    /// Whether a message paged now goes out later (held cases wait for their summary): it
    /// is marked sent only once it has.
    fn defers(&self, _n: &Notification) -> bool {
        false
    }
}

impl Pager for Notifier {
    async fn page(&self, n: &Notification) -> Result<(), NotifyError> {
        self.send(n).await
    }
}

#[cfg(test)]
pub mod memory {
    use std::sync::Mutex;

    use super::*;

    #[derive(Debug, Default)]
    pub struct MemoryPager {
        pub sent: Mutex<Vec<Notification>>,
        /// While set, every notification is refused, as SNS refuses one.
        pub refuse: std::sync::atomic::AtomicBool,
        /// While set, a notification never returns: the invocation dies with it unsent.
        pub hang: std::sync::atomic::AtomicBool,
    }

    impl MemoryPager {
        pub fn taken(&self) -> Vec<Notification> {
            std::mem::take(&mut *self.sent.lock().unwrap_or_else(|p| p.into_inner()))
        }
    }

    impl Pager for MemoryPager {
        async fn page(&self, n: &Notification) -> Result<(), NotifyError> {
            if self.hang.load(std::sync::atomic::Ordering::SeqCst) {
                std::future::pending::<()>().await;
            }
            if self.refuse.load(std::sync::atomic::Ordering::SeqCst) {
                return Err(NotifyError {
                    topic: "memory".into(),
                    message: "refused".into(),
                });
            }
            self.sent
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(n.clone());
            Ok(())
        }
    }
}
