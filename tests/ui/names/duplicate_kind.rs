#[derive(rex::RexMessage)]
enum Msg {
    Say,
    #[rex(rename = "say")]
    Shout,
}

fn main() {}
