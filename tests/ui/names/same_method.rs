#[allow(non_camel_case_types)]
#[derive(rex::RexMessage)]
#[rex(app = "ui", events = rex::Dynamic)]
enum Msg {
    FooBar,
    #[rex(rename = "other")]
    Foo_Bar,
}

fn main() {}
