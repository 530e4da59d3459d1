//! The reference Python: the interpreter `LLMS_REFERENCE_PYTHON` names, with llms-py 4.0.26
//! and the official `openai` SDK installed (by `.ci/run`). Unset, the tests that need it
//! say they were skipped; with `LLMS_REQUIRE_REFERENCE=1` its absence is a failure.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{json, Value};

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

/// llms.py's code, run by a Python interpreter that has it installed.
pub struct Reference {
    python: PathBuf,
    /// A throw-away HOME, so that nothing the reference might write lands elsewhere.
    scratch: tempfile::TempDir,
}

/// The reference, or `None` (with a notice) when it is not configured and not required.
pub fn reference(test: &str) -> Option<Reference> {
    reference_python(test).map(|python| Reference {
        python,
        scratch: tempfile::tempdir().unwrap(),
    })
}

/// One operation for the reference (see `tests/reference/compat.py`).
pub fn hash_op(password: &str) -> Value {
    json!(["hash", password])
}

pub fn verify_op(password: &str, hash: &str) -> Value {
    json!(["verify", password, hash])
}

pub fn load_op(path: &Path) -> Value {
    json!(["load", path])
}

/// The reference's own CLI on `user_path/credentials/users.json`; `answers` are the lines
/// typed at its prompts. (llms.py itself uses `~/.llms/user/default` as its user path.)
pub fn cli_op(user_path: &Path, args: &[&str], answers: &str) -> Value {
    json!(["cli", user_path, args, answers])
}

impl Reference {
    /// Runs `operations` in order in one interpreter and returns their results.
    pub fn batch(&self, operations: &[Value]) -> Vec<Value> {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/reference/compat.py");
        let mut child = Command::new(&self.python)
            .arg(script)
            .env("HOME", self.scratch.path())
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .env("TZ", "UTC")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", self.python.display()));
        let input = serde_json::to_vec(operations).unwrap();
        let _ = child.stdin.take().unwrap().write_all(&input);
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "reference failed on {operations:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let results: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(results.len(), operations.len());
        results
    }

    /// Runs one operation.
    pub fn one(&self, operation: Value) -> Value {
        self.batch(&[operation]).pop().unwrap()
    }
}
