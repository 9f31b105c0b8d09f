//! `--watch`: follows `src/`, `Cargo.toml` and the configuration file, and
//! tells the main loop (a debounced [`Event::Changed`]) when a burst of
//! file events has changed one of them.

use super::Event;
use crate::project::Plugin;
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{channel, Sender};
use std::time::{Duration, SystemTime};

/// Quiet time after a file change before rebuilding: one save in an editor
/// is several file events.
const DEBOUNCE: Duration = Duration::from_millis(300);

/// The watched files' sizes and modification times.
type Fingerprint = Vec<(PathBuf, u64, Option<SystemTime>)>;

/// A running watch: the watcher (kept alive), what it follows, and how the
/// files looked at the last build.
pub(super) struct Watch {
    _watcher: notify::RecommendedWatcher,
    watched: Watched,
    fingerprint: Fingerprint,
}

impl Watch {
    /// Starts watching the plugin's sources and `config`, and says so.
    pub(super) fn start(
        plugin: &Plugin,
        config: Option<&Path>,
        events: Sender<Event>,
    ) -> Result<Watch> {
        let watched = Watched::new(plugin, config);
        let watcher = watched.start(events)?;
        println!("watching {} for changes", watched.describe());
        let fingerprint = watched.fingerprint();
        Ok(Watch {
            _watcher: watcher,
            watched,
            fingerprint,
        })
    }

    /// Whether a watched file is not as it was the last time this said
    /// so: events without a change (a file read, a build's Cargo.lock)
    /// rebuild nothing.
    pub(super) fn changed(&mut self) -> bool {
        let now = self.watched.fingerprint();
        if now == self.fingerprint {
            return false;
        }
        self.fingerprint = now;
        true
    }
}

/// What `--watch` follows: `src/`, `Cargo.toml` and the configuration file.
struct Watched {
    src: PathBuf,
    manifest: PathBuf,
    config: Option<PathBuf>,
}

impl Watched {
    fn new(plugin: &Plugin, config: Option<&Path>) -> Watched {
        Watched {
            src: plugin.dir.join("src"),
            manifest: plugin.manifest_path.clone(),
            config: config.map(|c| c.canonicalize().unwrap_or_else(|_| c.to_path_buf())),
        }
    }

    /// The watched paths, for the user.
    fn describe(&self) -> String {
        let mut paths = vec![
            self.src.display().to_string(),
            self.manifest.display().to_string(),
        ];
        if let Some(config) = &self.config {
            paths.push(config.display().to_string());
        }
        paths.join(", ")
    }

    /// Starts watching: a debounced [`Event::Changed`] per burst of file
    /// events. Files are watched through their folders: editors save by
    /// writing a new file and renaming it over the old one, which ends a
    /// watch on the file itself.
    fn start(&self, events: Sender<Event>) -> Result<notify::RecommendedWatcher> {
        use notify::{RecursiveMode, Watcher};
        let (raw, raw_events) = channel::<()>();
        let mut watcher =
            notify::recommended_watcher(move |result: notify::Result<notify::Event>| {
                // Reads (our own build reads every source) change nothing.
                if result.is_ok_and(|e| !matches!(e.kind, notify::EventKind::Access(_))) {
                    let _ = raw.send(());
                }
            })
            .context("cannot watch files")?;
        watcher
            .watch(&self.src, RecursiveMode::Recursive)
            .with_context(|| format!("cannot watch {}", self.src.display()))?;
        let mut folders: Vec<&Path> = Vec::new();
        for file in std::iter::once(&self.manifest).chain(self.config.as_ref()) {
            if let Some(folder) = file.parent().filter(|f| !folders.contains(f)) {
                folders.push(folder);
            }
        }
        for folder in folders {
            watcher
                .watch(folder, RecursiveMode::NonRecursive)
                .with_context(|| format!("cannot watch {}", folder.display()))?;
        }
        std::thread::Builder::new()
            .name("watch-debounce".into())
            .spawn(move || {
                while raw_events.recv().is_ok() {
                    // Until the burst is over.
                    while raw_events.recv_timeout(DEBOUNCE).is_ok() {}
                    if events.send(Event::Changed).is_err() {
                        return;
                    }
                }
            })
            .context("cannot start a thread")?;
        Ok(watcher)
    }

    /// The watched files' sizes and modification times: a burst of events
    /// that leaves it as it was (a folder's other files, the build writing
    /// Cargo.lock) does not rebuild.
    fn fingerprint(&self) -> Fingerprint {
        let mut files = Vec::new();
        collect_files(&self.src, &mut files);
        files.push(self.manifest.clone());
        files.extend(self.config.clone());
        files.sort();
        files
            .into_iter()
            .map(|path| {
                let meta = std::fs::metadata(&path).ok();
                let len = meta.as_ref().map_or(0, |m| m.len());
                let modified = meta.and_then(|m| m.modified().ok());
                (path, len, modified)
            })
            .collect()
    }
}

/// Every file under `dir`, recursively.
fn collect_files(dir: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        match entry.file_type() {
            Ok(kind) if kind.is_dir() => collect_files(&path, files),
            Ok(_) => files.push(path),
            Err(_) => {}
        }
    }
}
