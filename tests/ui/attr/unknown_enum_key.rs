#[derive(rex::RexMessage)]
#[rex(rename_al = "kebab-case")]
enum Msg {
    Say,
}

fn main() {}
