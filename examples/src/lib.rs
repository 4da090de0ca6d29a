//! The apps behind REx's examples, as a library so the example binaries,
//! their clients and the integration tests share one definition.

pub mod chat;
pub mod cli;
pub mod remote;
pub mod trivia;
