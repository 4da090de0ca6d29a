#[derive(rex::RexMessage)]
#[rex(app = "ui", events = rex::Dynamic)]
enum Msg {
    Move(i32, i32),
}

fn main() {}
