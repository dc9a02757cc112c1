//! heal-cloudtrail
