#[derive(rex::RexMessage)]
#[rex(app = "ui", events = rex::Dynamic)]
enum Msg<T> {
    Say(T),
}

fn main() {}
