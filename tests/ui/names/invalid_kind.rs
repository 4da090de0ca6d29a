#[derive(rex::RexEvent)]
enum Ev {
    #[rex(rename = "said it")]
    Said,
}

fn main() {}
