#[derive(rex::RexMessage)]
struct Say {
    text: String,
}

fn main() {}
