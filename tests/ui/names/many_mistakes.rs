// Every mistake is reported in one compile, each at its own span.
#[derive(rex::RexMessage)]
#[rex(rename_all = "shouting", app = "two words")]
enum Msg {
    #[rex(rename = "")]
    Empty,
    Pair(u8, u8),
    Say { from: String },
    #[rex(colour = "red")]
    Paint,
}

fn main() {}
