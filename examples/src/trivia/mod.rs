//! Trivia night: the TV asks, every phone is a private answer pad.
//!
//! - [`protocol`]: the messages and events, shared by the server, the Rust
//!   bots and (as JSON) the browser pages;
//! - [`game`]: the [`TriviaApp`] the server runs;
//! - [`hosted`]: many trivia rooms on one server, each made from what its
//!   creator asked for;
//! - [`questions`]: the question file format and its validation;
//! - [`bot`]: a player driven by code, for the demo and the tests;
//! - [`player`]: the terminal player's screen and input (the
//!   `trivia-player` example);
//! - [`show`]: the text both terminal programs print (letters, scoreboard
//!   lines);
//! - [`web`]: the browser pages, the TV screen and the phone controller.

pub mod bot;
pub mod game;
pub mod hosted;
pub mod player;
pub mod protocol;
pub mod questions;
pub mod show;
pub mod web;

pub use game::{Phase, TriviaApp, TriviaConfig, TriviaState};
pub use protocol::{
    Standing, TriviaEvent, TriviaEventHandler, TriviaMsg, TriviaMsgClient, TriviaMsgHandler,
};
pub use questions::{Question, QuestionsError};
