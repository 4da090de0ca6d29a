#[derive(rex::RexMessage)]
#[rex(app = "ui", events = rex::Dynamic, rename_al = "kebab-case")]
enum Msg {
    Say,
}

fn main() {}
