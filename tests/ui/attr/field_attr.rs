#[derive(rex::RexMessage)]
enum Msg {
    Say {
        #[rex(rename = "t")]
        text: String,
    },
}

fn main() {}
