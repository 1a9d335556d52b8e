//! The rate limiter with its state in a real Redis server (`REDIS_URL`, by default
//! `redis://127.0.0.1:6379`), each test under a key prefix of its own (deleted at the end):
//! decisions, limits shared by separate handles, waiting, the tower door, and the policies when
//! Redis is away (against a closed port, and a server that never answers).
//!
//! Without a reachable server the tests that need one say so and pass, except under `CI=true`,
//! where they fail (`.ci/run` runs them so). These run in real time: Redis keeps its own clock.
#![cfg(feature = "redis")]

mod server;
mod shared;
mod unavailable;
