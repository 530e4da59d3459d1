//! The CLI in a pseudo-terminal, for its password prompts.

use std::process::Command;
use std::time::{Duration, Instant};

use super::home::{llms_bin, Home};

/// How long any one expectation on a pseudo-terminal may take.
pub const PTY_TIMEOUT_MS: u64 = 15_000;

impl Home {
    /// `llms args...` on a pseudo-terminal, with the terminal's echo switched back on
    /// (rexpect turns it off), so a password typed while the program forgets to hide it
    /// would show up in the output.
    pub fn pty(&self, args: &[&str]) -> rexpect::session::PtySession {
        self.pty_with(args, &[])
    }

    /// Like [`Home::pty`], with extra environment variables.
    pub fn pty_with(&self, args: &[&str], envs: &[(&str, &str)]) -> rexpect::session::PtySession {
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(r#"stty echo && exec "$0" "$@""#)
            .arg(llms_bin())
            .args(args);
        self.clean_env(&mut cmd);
        cmd.envs(envs.iter().copied());
        rexpect::session::spawn_command(cmd, Some(PTY_TIMEOUT_MS)).expect("spawn llms on a pty")
    }
}

/// Whether the terminal of `session` echoes typed characters right now.
pub fn pty_echoes(session: &rexpect::session::PtySession) -> bool {
    let termios = nix::sys::termios::tcgetattr(&session.process().pty).expect("tcgetattr");
    termios
        .local_flags
        .contains(nix::sys::termios::LocalFlags::ECHO)
}

/// Waits (bounded) until the program has switched the terminal's echo off, then types
/// `secret` and Enter. Panics when echo stays on: the secret would be shown.
pub fn type_secret(session: &mut rexpect::session::PtySession, secret: &str) {
    let deadline = Instant::now() + Duration::from_millis(PTY_TIMEOUT_MS);
    while pty_echoes(session) {
        assert!(
            Instant::now() < deadline,
            "the terminal still echoes input at the password prompt"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    session.send_line(secret).expect("type on the pty");
}

/// Reads the rest of the output and the exit code of a pty session.
pub fn pty_finish(mut session: rexpect::session::PtySession) -> (String, i32) {
    let rest = session.exp_eof().expect("program ends");
    match session.process().wait().expect("wait") {
        rexpect::process::wait::WaitStatus::Exited(_, code) => (rest, code),
        other => panic!("llms did not exit normally: {other:?}; output: {rest}"),
    }
}
