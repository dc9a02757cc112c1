//! disable-offender
