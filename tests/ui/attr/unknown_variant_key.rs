#[derive(rex::RexEvent)]
enum Ev {
    #[rex(renam = "said")]
    Said,
}

fn main() {}
