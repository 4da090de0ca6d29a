#[derive(rex::RexMessage)]
#[rex(app = "ui", events = rex::Dynamic)]
enum Msg {
    #[rex(rename = "a", rename = "b")]
    Say,
}

fn main() {}
