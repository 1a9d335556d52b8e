//! Placeholder, filled in with the metrics tests.
