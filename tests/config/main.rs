//! Configuration: settings read from TOML and JSON files (defaults, human durations, errors that
//! name the file, line and key), and running instances reconfigured without losing their state.

mod files;
mod reconfigure;
