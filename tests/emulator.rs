//! Integration tests against the local AWS emulator. Run them with `make test`.

mod framework;
mod isolate_instance;
