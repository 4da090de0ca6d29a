#[derive(rex::RexMessage)]
enum Msg {
    Move(i32, i32),
}

fn main() {}
