//! The reference Python: the interpreter `LLMS_REFERENCE_PYTHON` names, with llms-py 4.0.26
//! and the official `openai` SDK installed (by `.ci/run`). Unset, the tests that need it
//! say they were skipped; with `LLMS_REQUIRE_REFERENCE=1` its absence is a failure.

use std::io::Write;
use std::path::PathBuf;

/// The interpreter, or `None` (with a notice on standard error) when it is not configured
/// and not required; `test` names the test in the notice.
pub fn reference_python(test: &str) -> Option<PathBuf> {
    match std::env::var_os("LLMS_REFERENCE_PYTHON").filter(|v| !v.is_empty()) {
        Some(python) => Some(PathBuf::from(python)),
        None if std::env::var("LLMS_REQUIRE_REFERENCE").as_deref() == Ok("1") => panic!(
            "LLMS_REQUIRE_REFERENCE=1 but LLMS_REFERENCE_PYTHON is not set: point it at a \
             Python with llms-py==4.0.26 and openai installed"
        ),
        None => {
            // Straight to the stream, past the test harness's capture, so it is seen.
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED {test}: LLMS_REFERENCE_PYTHON is not set (a Python with llms-py==4.0.26 and openai)"
            );
            None
        }
    }
}

/// Whether a missing piece of the reference must fail the test rather than skip it.
pub fn reference_required() -> bool {
    std::env::var("LLMS_REQUIRE_REFERENCE").as_deref() == Ok("1")
}
