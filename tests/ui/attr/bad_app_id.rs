#[derive(rex::RexMessage)]
#[rex(app = "my chat", events = rex::Dynamic)]
enum Msg {
    Say,
}

fn main() {}
