//! An Envoy process: started from a bootstrap file with the options every
//! user here wants (one worker, no hot restart, `warning` for Envoy's own
//! components), dying with its parent, its stderr captured (to a file, or
//! line by line to a callback), its admin `/ready` polled, and stopped on
//! drop (SIGTERM with a grace period, or SIGKILL at once).

use std::ffi::OsString;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// How often [`EnvoyProcess::wait_ready`] looks at the admin `/ready`.
const POLL: Duration = Duration::from_millis(50);

/// How long one probe ([`is_ready`], [`accepts`]) may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// Receives each line Envoy writes to stderr (without its line end), then
/// `None` when Envoy closes it (it exited); returning `false` stops reading.
type LineSink = Box<dyn FnMut(Option<String>) -> bool + Send>;

/// Where Envoy's stderr (its log) goes.
enum Stderr {
    Null,
    File(PathBuf),
    Lines(LineSink),
}

/// How to start an Envoy (a builder); [`spawn`](Self::spawn) starts it.
pub struct EnvoyCommand {
    binary: PathBuf,
    args: Vec<OsString>,
    stderr: Stderr,
    own_group: bool,
    grace: Duration,
}

impl EnvoyCommand {
    /// Envoy `binary` with the bootstrap at `bootstrap`:
    /// `-c <bootstrap> --concurrency 1 --disable-hot-restart -l warning`.
    pub fn new(binary: &Path, bootstrap: &Path) -> EnvoyCommand {
        let mut args: Vec<OsString> = vec!["-c".into(), bootstrap.into()];
        for arg in [
            "--concurrency",
            "1",
            "--disable-hot-restart",
            "-l",
            "warning",
        ] {
            args.push(arg.into());
        }
        EnvoyCommand {
            binary: binary.to_path_buf(),
            args,
            stderr: Stderr::Null,
            own_group: false,
            grace: Duration::ZERO,
        }
    }

    /// The log level of Envoy's `wasm` component, the plugin's lines:
    /// `--component-log-level wasm:<level>`.
    pub fn wasm_log_level(self, level: &str) -> EnvoyCommand {
        self.args(["--component-log-level", &format!("wasm:{level}")])
    }

    /// More arguments for Envoy.
    pub fn args<I, S>(mut self, args: I) -> EnvoyCommand
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Envoy's stderr goes to the file at `path` (created or truncated).
    /// Its `--log-path` file would be flushed only now and then; stderr is
    /// written line by line.
    pub fn stderr_to_file(mut self, path: &Path) -> EnvoyCommand {
        self.stderr = Stderr::File(path.to_path_buf());
        self
    }

    /// Each line of Envoy's stderr goes to `sink` (on a thread of its own,
    /// lossy UTF-8, without the line end), then `None` once Envoy closes
    /// it; `sink` returning `false` stops the reading.
    pub fn stderr_lines(
        mut self,
        sink: impl FnMut(Option<String>) -> bool + Send + 'static,
    ) -> EnvoyCommand {
        self.stderr = Stderr::Lines(Box::new(sink));
        self
    }

    /// Envoy in a process group of its own, so a Ctrl-C in the terminal
    /// reaches the parent alone (which then stops Envoy itself).
    pub fn own_process_group(mut self) -> EnvoyCommand {
        self.own_group = true;
        self
    }

    /// On drop, SIGTERM first and up to `grace` for Envoy to exit before
    /// SIGKILL (default: SIGKILL at once).
    pub fn stop_grace(mut self, grace: Duration) -> EnvoyCommand {
        self.grace = grace;
        self
    }

    /// Starts Envoy. It is killed by the kernel when this process dies,
    /// however it dies (`PR_SET_PDEATHSIG`, Linux).
    pub fn spawn(self) -> io::Result<EnvoyProcess> {
        let mut cmd = Command::new(&self.binary);
        cmd.args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        match &self.stderr {
            Stderr::Null => cmd.stderr(Stdio::null()),
            Stderr::File(path) => cmd.stderr(std::fs::File::create(path)?),
            Stderr::Lines(_) => cmd.stderr(Stdio::piped()),
        };
        if self.own_group {
            use std::os::unix::process::CommandExt;
            cmd.process_group(0);
        }
        die_with_parent(&mut cmd);
        let mut envoy = EnvoyProcess {
            child: cmd.spawn()?,
            grace: self.grace,
        };
        if let Stderr::Lines(sink) = self.stderr {
            let stderr = envoy.child.stderr.take().expect("Envoy's stderr is piped");
            // On an error Envoy is stopped as `envoy` drops.
            std::thread::Builder::new()
                .name("envoy-stderr".into())
                .spawn(move || forward_lines(stderr, sink))?;
        }
        Ok(envoy)
    }
}

/// Reads `stderr` line by line into `sink`, then tells it the end.
fn forward_lines(stderr: impl Read, mut sink: LineSink) {
    let mut reader = BufReader::new(stderr);
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {
                let text = String::from_utf8_lossy(&line);
                let text = text.trim_end_matches(['\r', '\n']).to_string();
                if !sink(Some(text)) {
                    return;
                }
            }
        }
    }
    sink(None);
}

/// Why [`EnvoyProcess::wait_ready`] gave up.
#[derive(Debug)]
pub enum NotReady {
    /// Envoy exited first, with this status.
    Exited(ExitStatus),
    /// Envoy was not ready in time.
    TimedOut,
}

/// A running Envoy, stopped on drop (see [`EnvoyCommand::stop_grace`]).
pub struct EnvoyProcess {
    child: Child,
    grace: Duration,
}

impl EnvoyProcess {
    /// Envoy's process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Envoy's exit status, if it has exited.
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        self.child.try_wait()
    }

    /// Waits for Envoy to exit.
    pub fn wait(&mut self) -> io::Result<ExitStatus> {
        self.child.wait()
    }

    /// Polls Envoy's admin `/ready` on 127.0.0.1:`admin_port` until it
    /// answers 200 (LIVE), Envoy exits, or `timeout` passes.
    pub fn wait_ready(&mut self, admin_port: u16, timeout: Duration) -> Result<(), NotReady> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(NotReady::Exited(status));
            }
            if is_ready(admin_port) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(NotReady::TimedOut);
            }
            std::thread::sleep(POLL);
        }
    }

    /// Whether Envoy exits within `limit` (polled every 10 ms).
    fn exits_within(&mut self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    }
}

impl Drop for EnvoyProcess {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
        if !self.grace.is_zero() {
            // SIGTERM first: Envoy shuts down cleanly within milliseconds.
            if let Ok(pid) = libc::pid_t::try_from(self.child.id()) {
                // SAFETY: kill(2) with a pid we own, which we have not reaped.
                unsafe {
                    libc::kill(pid, libc::SIGTERM);
                }
            }
            if self.exits_within(self.grace) {
                return;
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Has the kernel kill the child `cmd` starts when this process dies,
/// however it dies (`PR_SET_PDEATHSIG`; nothing elsewhere than on Linux).
pub fn die_with_parent(cmd: &mut Command) {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::process::CommandExt;
        // SAFETY: the closure runs in the child between fork and exec;
        // prctl is async-signal-safe and touches no memory of ours.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = cmd;
}

/// Whether Envoy's admin `/ready` on 127.0.0.1:`admin_port` answers 200
/// (LIVE).
pub fn is_ready(admin_port: u16) -> bool {
    let ask = || -> io::Result<bool> {
        let address = SocketAddr::from(([127, 0, 0, 1], admin_port));
        let mut stream = TcpStream::connect_timeout(&address, PROBE_TIMEOUT)?;
        stream.set_read_timeout(Some(PROBE_TIMEOUT))?;
        stream.set_write_timeout(Some(PROBE_TIMEOUT))?;
        stream.write_all(b"GET /ready HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n")?;
        let mut status_line = String::new();
        BufReader::new(stream).read_line(&mut status_line)?;
        Ok(status_line.split_whitespace().nth(1) == Some("200"))
    };
    ask().unwrap_or(false)
}

/// Whether something accepts connections on 127.0.0.1:`port`.
pub fn accepts(port: u16) -> bool {
    TcpStream::connect_timeout(&SocketAddr::from(([127, 0, 0, 1], port)), PROBE_TIMEOUT).is_ok()
}

/// An exit status as `exit code 1` or `signal 9`.
pub fn describe_exit(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit code {code}"),
        (None, Some(signal)) => format!("signal {signal}"),
        _ => status.to_string(),
    }
}
