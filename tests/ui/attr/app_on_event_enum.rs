// The message enum names the protocol; the event enum names nothing.
#[derive(rex::RexEvent)]
#[rex(app = "chat", events = Ev)]
enum Ev {
    Said,
}

fn main() {}
