//! Fault injection.
#![cfg(feature = "chaos")]

mod basics;
