//! Integration tests against the local AWS emulator. Run them with `make test`.

mod disable_offender;
mod framework;
mod guard_tourniquet;
mod heal_cloudtrail;
mod host;
mod isolate_instance;
mod organization;
