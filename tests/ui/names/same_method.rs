#[allow(non_camel_case_types)]
#[derive(rex::RexMessage)]
enum Msg {
    FooBar,
    #[rex(rename = "other")]
    Foo_Bar,
}

fn main() {}
