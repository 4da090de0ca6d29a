//! Compile-fail and pass tests of the derive macros: every misuse is an
//! error a person can act on, at the right span. Regenerate the expected
//! `.stderr` files with `TRYBUILD=overwrite cargo test -p rex-tests --test
//! compiletest` and read the diff.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("ui/shape/*.rs");
    t.compile_fail("ui/attr/*.rs");
    t.compile_fail("ui/names/*.rs");
    t.compile_fail("ui/schema/*.rs");
    t.pass("ui/pass/*.rs");
}
