//! Running the real `retention` binary in a test directory.

use std::path::Path;
use std::process::Command;

/// What one invocation printed and how it exited.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Panics with everything printed unless the exit code is `code`.
    #[track_caller]
    pub fn expect_code(self, code: i32) -> Run {
        assert_eq!(
            self.code, code,
            "exit code\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

/// Runs `retention --config <dir>/retention.yaml <args>` with extra environment variables.
pub fn retention(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_retention"));
    cmd.current_dir(dir)
        .arg("--config")
        .arg(dir.join("retention.yaml"))
        .args(args)
        .env("RETENTION_LOG", "warn");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("the retention binary runs");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Writes `files` (relative path, contents) under `dir`.
pub fn write_files(dir: &Path, files: &[(&str, &str)]) {
    for (path, text) in files {
        let p = dir.join(path);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(p, text).unwrap();
    }
}

/// Starts `retention --config <dir>/retention.yaml run` (warnings and errors on its
/// piped stderr) and returns at once, for a test that acts while the run works.
pub fn spawn_run(dir: &Path, env: &[(&str, &str)]) -> std::process::Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_retention"));
    cmd.current_dir(dir)
        .arg("--config")
        .arg(dir.join("retention.yaml"))
        .arg("run")
        .env("RETENTION_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.spawn().expect("the retention binary starts")
}

/// A run of the binary paused at a step by its debug-only hook (`src/execute/pause.rs`):
/// the child, with debug logs on its stderr, and the file whose removal lets it go on.
pub struct Paused {
    pub child: std::process::Child,
    pub flag: std::path::PathBuf,
}

impl Paused {
    /// Starts `retention --config <dir>/retention.yaml run` and waits until it pauses at
    /// `step`.
    pub fn run_at(dir: &Path, step: &str, env: &[(&str, &str)]) -> Paused {
        Paused::command_at(dir, &["run"], step, env)
    }

    /// [`Paused::run_at`] for any command.
    pub fn command_at(dir: &Path, args: &[&str], step: &str, env: &[(&str, &str)]) -> Paused {
        let flag = dir.join("paused");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_retention"));
        cmd.current_dir(dir)
            .arg("--config")
            .arg(dir.join("retention.yaml"))
            .args(args)
            .env("RETENTION_LOG", "debug")
            .env("RETENTION_TEST_PAUSE_AT", step)
            .env("RETENTION_TEST_PAUSE_FILE", &flag)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("the retention binary starts");
        let started = std::time::Instant::now();
        while !flag.exists() {
            assert!(
                started.elapsed() < std::time::Duration::from_secs(120),
                "the run reached {step}"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        Paused { child, flag }
    }

    /// Lets the run go on and waits for it: its exit code and stderr.
    pub fn resume(self) -> (Option<i32>, String) {
        std::fs::remove_file(&self.flag).expect("the pause file");
        let out = self.child.wait_with_output().expect("the run ends");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}
