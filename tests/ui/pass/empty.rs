//! An app with no messages (the TV acts alone) still derives.

#[derive(rex::RexMessage)]
#[rex(app = "clock", events = Ticks)]
pub enum NoMessages {}

#[derive(rex::RexEvent)]
pub enum Ticks {
    Tick,
}

/// The TV app: it only ticks.
struct Clock;

impl rex::RexApp for Clock {
    type Protocol = NoMessages;
}

/// Nothing to handle.
impl NoMessagesHandler for Clock {}

fn main() {
    assert!(<NoMessages as rex::RexMessage>::KINDS.is_empty());
    let _ = rex::Server::builder(Clock);
}
