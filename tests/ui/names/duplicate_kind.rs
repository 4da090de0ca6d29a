#[derive(rex::RexMessage)]
#[rex(app = "ui", events = rex::Dynamic)]
enum Msg {
    Say,
    #[rex(rename = "say")]
    Shout,
}

fn main() {}
