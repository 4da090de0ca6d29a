#[derive(rex::RexMessage)]
#[rex(rename = "msg")]
enum Msg {
    Say,
}

fn main() {}
