//! An app with no messages (the TV acts alone) still derives.

#[derive(rex::RexMessage)]
pub enum NoMessages {}

#[derive(rex::RexEvent)]
pub enum Ticks {
    Tick,
}

fn main() {
    assert!(<NoMessages as rex::RexMessage>::KINDS.is_empty());
}
