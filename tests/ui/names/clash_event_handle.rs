#[derive(rex::RexEvent)]
enum Ev {
    Handle,
}

fn main() {}
