//! `run`: a `basic` plugin crate in a real Envoy (the repository's, from
//! `scripts/setup`) in front of the echo backend; a request goes through the
//! plugin, its log line reaches stdout, SIGINT stops everything. A
//! configuration that is not JSON or that the plugin refuses fails with one
//! line saying so, as does a Redis plugin, which upstream Envoy cannot load.

mod common;

use common::{bin, free_port, new_plugin, repo_root, run, shared_target, stderr, stdout};
use gateway_plugin_envoy::{accepts, binary};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// `$ENVOY_BIN`, else the repository's Envoy (`scripts/setup` installs it).
fn envoy() -> PathBuf {
    let root = repo_root();
    binary::from_env_or_checkout(&root).unwrap_or_else(|| {
        panic!(
            "no Envoy at {}: run scripts/setup (or scripts/install-envoy) first",
            binary::checkout_binary(&root).display()
        )
    })
}

/// One `basic` plugin crate for every test here (they build it in turn).
fn plugin_crate() -> &'static Path {
    static CRATE: OnceLock<PathBuf> = OnceLock::new();
    CRATE.get_or_init(|| {
        let parent = shared_target().join("run");
        let _ = std::fs::remove_dir_all(&parent);
        std::fs::create_dir_all(&parent).unwrap();
        new_plugin(&parent, "run-plugin", "basic")
    })
}

/// `cargo-gateway-plugin ARGS` in `dir`, its stdout lines coming through a
/// channel; killed on drop, so a failing test leaves nothing running.
struct Running {
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
}

impl Running {
    fn spawn(dir: &Path, args: &[&str]) -> Running {
        let mut child = Command::new(bin())
            .args(args)
            .current_dir(dir)
            .env("CARGO_TARGET_DIR", shared_target())
            .env("ENVOY_BIN", envoy())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            // The build's output and errors, for the failure messages.
            .stderr(Stdio::inherit())
            .spawn()
            .expect("run cargo-gateway-plugin");
        let stdout = child.stdout.take().unwrap();
        let (send, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        Running {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits up to `limit` for a stdout line containing `needle`.
    fn wait_for(&mut self, needle: &str, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "no line with {needle:?} within {limit:?} (exited: {:?}); stdout so far:\n{}",
                    self.child.try_wait(),
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// Waits up to `limit` for the process to exit.
    fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn runs_the_plugin_in_envoy_and_stops_on_sigint() {
    let started = Instant::now();
    let dir = plugin_crate();
    let port = free_port();
    let port_arg = port.to_string();
    let config = r#"{"headerName": "x-run", "headerValue": "through-the-plugin"}"#;
    let mut running = Running::spawn(dir, &["run", "--port", &port_arg, "--config", config]);

    // The build (debug) and Envoy's start; the first in this target dir
    // compiles the framework.
    let listening = running.wait_for("listening on", Duration::from_secs(600));
    assert!(
        listening.contains(&format!("http://127.0.0.1:{port}")),
        "{listening}"
    );
    assert!(listening.contains("run_plugin.wasm"), "{listening}");
    running.wait_for(
        &format!("curl -i http://127.0.0.1:{port}/"),
        Duration::from_secs(5),
    );
    eprintln!("ready after {:.1?}", started.elapsed());

    // Through the plugin (it adds the header) to the echo backend.
    let resp = ureq::post(&format!("http://127.0.0.1:{port}/hello?x=1"))
        .timeout(Duration::from_secs(10))
        .send_string("ping")
        .expect("a request through Envoy");
    assert_eq!(resp.status(), 200);
    let body = resp.into_string().expect("the echo's answer");
    let echo: serde_json::Value = serde_json::from_str(&body).expect("the echo's JSON");
    assert_eq!(echo["headers"]["x-run"], "through-the-plugin", "{echo}");
    assert_eq!(echo["method"], "POST", "{echo}");
    assert_eq!(echo["path"], "/hello?x=1", "{echo}");
    assert_eq!(echo["body"], "ping", "{echo}");

    // The plugin's log line, shortened.
    let logged = running.wait_for("POST /hello", Duration::from_secs(10));
    assert_eq!(logged, "info [run-plugin] POST /hello?x=1");

    // SIGINT: exit 0 promptly, Envoy gone with it.
    let pid = libc::pid_t::try_from(running.child.id()).unwrap();
    // SAFETY: kill(2) on our own, not yet reaped, child.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
    let status = running
        .wait_exit(Duration::from_secs(10))
        .expect("run exits within 10 s of SIGINT");
    assert!(status.success(), "{status}");
    assert!(!accepts(port), "Envoy still listens on {port}");
    eprintln!("all: {:.1?}", started.elapsed());
}

#[test]
fn a_configuration_that_is_not_json_starts_nothing() {
    let scratch = common::Scratch::new("run-bad-json");
    let out = run(scratch.path(), &["run", "--config", "{bad json"], None);
    let line = common::assert_one_line_error(&out, "run --config '{bad json'");
    assert!(line.contains("inline configuration"), "{line}");
    assert!(line.contains("key must be a string"), "{line}");
    // Checked before the build: no crate was needed, nothing printed.
    assert_eq!(stdout(&out), "");
}

#[test]
fn a_configuration_the_plugin_refuses_is_its_own_error_line() {
    let dir = plugin_crate();
    let out = run_failing(dir, &["--config", r#"{"mockEnable": "yes"}"#]);
    let (err, error) = one_error(&out);
    assert_eq!(
        error,
        r#"error: the plugin refused its configuration: [run-plugin] invalid configuration at mockEnable: invalid type: string "yes", expected a boolean"#,
        "{err}"
    );
    assert!(!err.contains("Unable to create Wasm plugin"), "{err}");
    assert!(!stdout(&out).contains("listening on"), "{}", stdout(&out));
}

/// Upstream Envoy has no Redis host calls: `run` on a `--template redis`
/// crate says so in one line, with what to do, instead of Envoy's
/// "Unable to create Wasm plugin".
#[test]
fn a_redis_plugin_envoy_cannot_load_is_one_line_saying_why() {
    let parent = shared_target().join("run-redis");
    let _ = std::fs::remove_dir_all(&parent);
    std::fs::create_dir_all(&parent).unwrap();
    let dir = new_plugin(&parent, "redis-run-plugin", "redis");
    let out = run_failing(&dir, &[]);
    let (err, error) = one_error(&out);
    assert!(
        error.starts_with("error: Envoy cannot load the plugin: it imports env.proxy_redis_"),
        "{err}"
    );
    assert!(error.contains("`cargo gateway-plugin test`"), "{err}");
    assert!(!stdout(&out).contains("listening on"), "{}", stdout(&out));
}

/// `run --port FREE ARGS` in the crate at `dir`, expected to stop by itself.
fn run_failing(dir: &Path, args: &[&str]) -> std::process::Output {
    let port = free_port().to_string();
    Command::new(bin())
        .args(["run", "--port", &port])
        .args(args)
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", shared_target())
        .env("ENVOY_BIN", envoy())
        .stdin(Stdio::null())
        .output()
        .expect("run cargo-gateway-plugin")
}

/// A run that failed with exit code 1 and one `error` line (the build's
/// lines come first): its stderr and that line.
fn one_error(out: &std::process::Output) -> (String, String) {
    assert_eq!(out.status.code(), Some(1), "{}", stderr(out));
    let err = stderr(out);
    let errors: Vec<String> = err
        .lines()
        .filter(|l| l.starts_with("error"))
        .map(str::to_string)
        .collect();
    assert_eq!(errors.len(), 1, "{err}");
    let error = errors[0].clone();
    (err, error)
}
