//! A check of tests/run itself: with ORQ_TEST_FAIL_ONE=1 this test fails on
//! purpose, so one can see that the runner still runs every suite after it
//! and counts the failure in its closing "N passed, M failed" line.

#[test]
fn fails_only_when_asked_to() {
    assert!(
        std::env::var_os("ORQ_TEST_FAIL_ONE").is_none(),
        "ORQ_TEST_FAIL_ONE is set: this test fails on purpose"
    );
}
