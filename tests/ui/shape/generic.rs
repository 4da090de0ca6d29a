#[derive(rex::RexMessage)]
enum Msg<T> {
    Say(T),
}

fn main() {}
