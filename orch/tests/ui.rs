//! Compile-time behaviour of `#[orch_command]` and `#[orch_handler]`: the pass cases must
//! build, and every fail case must fail with the message in its `.stderr` snapshot. One
//! mistake per file, named after the mistake; refresh the snapshots with
//! `TRYBUILD=overwrite cargo test -p orch --test ui`.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}
