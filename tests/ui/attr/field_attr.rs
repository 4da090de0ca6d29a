#[derive(rex::RexMessage)]
#[rex(app = "ui", events = rex::Dynamic)]
enum Msg {
    Say {
        #[rex(rename = "t")]
        text: String,
    },
}

fn main() {}
