#[derive(rex::RexMessage)]
enum Msg {
    Dispatch,
}

fn main() {}
