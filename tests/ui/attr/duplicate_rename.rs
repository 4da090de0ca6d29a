#[derive(rex::RexMessage)]
enum Msg {
    #[rex(rename = "a", rename = "b")]
    Say,
}

fn main() {}
