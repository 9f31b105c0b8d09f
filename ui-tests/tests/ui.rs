//! Every supported handler shape compiles; every misuse fails with the
//! message in its `.stderr` snapshot (update with `TRYBUILD=overwrite`, then
//! read the diff).

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/pass/*.rs");
    t.compile_fail("tests/fail/*.rs");
}
