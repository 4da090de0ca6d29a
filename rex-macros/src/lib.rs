//! Derive macros for REx protocols.
//!
//! `#[derive(RexMessage)]` and `#[derive(RexEvent)]` land with the "derive
//! macros" issue; until then apps implement `rex::RexMessage` and
//! `rex::RexEvent` by hand (see `examples/src/chat.rs`). This crate is kept in
//! the workspace now so the layout apps depend on does not change later.
