//! isolate-instance
