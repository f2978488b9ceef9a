//! Child processes: a `serve` that binds its own port and says where, and one-shot
//! commands with input on stdin.
//!
//! Both programs' `serve` print one line on standard output once their socket listens,
//! `待ち受けています: http://127.0.0.1:43567/` (one per bound address), and log only to
//! standard error. The kit starts them on `127.0.0.1:0` and reads that line, so no port
//! is ever picked by one process and bound by another.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// What `serve` prints before the URL, in both programs (`src/cli/serve.rs`,
/// `crates/issuer/src/server.rs`).
pub const LISTENING: &str = "待ち受けています: ";

/// How long a `serve` may take to say it listens (a cold debug build on a busy machine).
pub const START: Duration = Duration::from_secs(60);

/// A running `serve`; dropping it kills the process.
pub struct Serving {
    child: Child,
    /// The URL the child printed, without its trailing `/`: `http://127.0.0.1:43567`.
    pub base_url: String,
}

impl Serving {
    /// Starts `cmd` (a `serve` bound to port 0) with its standard output and error
    /// appended to `log`, and waits up to [`START`] for its [`LISTENING`] line.
    /// Panics with the log when the child exits or stays silent.
    pub fn start(cmd: Command, log: &Path) -> Self {
        let (child, url) = spawn_until_line(cmd, log, |line| {
            line.strip_prefix(LISTENING)
                .map(|url| url.trim().trim_end_matches('/').to_owned())
        });
        Serving {
            child,
            base_url: url,
        }
    }

    /// The process id, for benches that read its CPU time.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

/// Starts `cmd` with its standard output and error appended to `log` and waits up to
/// [`START`] for the first line of standard output that `recognise` accepts, giving
/// the child and what `recognise` made of the line. Panics with the log when the child
/// exits or stays silent (and then kills it).
pub fn spawn_until_line(
    cmd: Command,
    log: &Path,
    recognise: impl Fn(&str) -> Option<String> + Send + 'static,
) -> (Child, String) {
    try_spawn_until_line(cmd, log, recognise).unwrap_or_else(|e| panic!("{e}"))
}

/// [`spawn_until_line`], with the child's exit or silence as `Err` (what happened and
/// the log), for a caller that can try again.
pub fn try_spawn_until_line(
    mut cmd: Command,
    log: &Path,
    recognise: impl Fn(&str) -> Option<String> + Send + 'static,
) -> Result<(Child, String), String> {
    let name = Path::new(cmd.get_program())
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("log file");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(file.try_clone().expect("log file"))
        .spawn()
        .unwrap_or_else(|e| panic!("start {name}: {e}"));
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    // Keeps reading to the end, so the child never blocks on a full pipe.
    std::thread::spawn(move || {
        let mut file = file;
        let mut tx = Some(tx);
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let _ = writeln!(file, "{line}");
            if let Some(found) = recognise(&line) {
                if let Some(tx) = tx.take() {
                    let _ = tx.send(found);
                }
            }
        }
    });
    match rx.recv_timeout(START) {
        Ok(found) => Ok((child, found)),
        Err(gone) => {
            // Disconnected: its standard output closed, so it is exiting; wait for that
            // rather than kill it, to report its status.
            let status = match gone {
                mpsc::RecvTimeoutError::Disconnected => child.wait().ok(),
                mpsc::RecvTimeoutError::Timeout => child.try_wait().ok().flatten(),
            };
            let _ = child.kill();
            let _ = child.wait();
            let log = std::fs::read_to_string(log).unwrap_or_default();
            Err(match status {
                Some(status) => format!("{name} exited ({status}):\n{log}"),
                None => format!("{name} did not say where it listens within {START:?}:\n{log}"),
            })
        }
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `cmd` to completion with `stdin` as its standard input, capturing its output.
pub fn output_with_stdin(mut cmd: Command, stdin: &str) -> Output {
    let program = cmd.get_program().to_string_lossy().into_owned();
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("run {program}: {e}"));
    if let Some(mut input) = child.stdin.take() {
        input.write_all(stdin.as_bytes()).expect("write stdin");
    }
    child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("wait for {program}: {e}"))
}

/// Standard output of a finished command, lossily as text.
/// Asserts that a command exited with `code`, showing what it printed when it did not.
#[track_caller]
pub fn assert_exit(o: &Output, code: i32) {
    assert_eq!(o.status.code(), Some(code), "{}{}", stdout(o), stderr(o));
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Standard error of a finished command, lossily as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Waits up to `limit` for `child` to end on its own and returns its exit code; a child
/// still running then is killed and reaped, and the answer is `None`. For commands that
/// must stop at start (a bad setting), so a test fails instead of hanging on one that
/// serves.
pub fn exit_code_within(
    child: &mut std::process::Child,
    limit: std::time::Duration,
) -> Option<i32> {
    let deadline = std::time::Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("wait for the child") {
            return status.code();
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}
