//! The timeout, standalone and as a tower layer.

mod basics;
#[path = "../common/mod.rs"]
mod support;
