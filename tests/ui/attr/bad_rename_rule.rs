#[derive(rex::RexMessage)]
#[rex(rename_all = "Title Case")]
enum Msg {
    Say,
}

fn main() {}
