// A message enum must name its app and its event enum.
#[derive(rex::RexMessage)]
enum Msg {
    Say,
}

fn main() {}
