//! `package` and `push` against a real registry (Debian's `docker-registry`,
//! the CNCF distribution registry), started per test on a free port and
//! killed on drop: the image is pulled back through the registry API and
//! checked blob by blob. Plus credentials (htpasswd, bcrypt) and a registry
//! that is down.

mod common;

use common::{
    assert_ok, assert_one_line_error, free_port, new_plugin, run, shared_target, stderr, stdout,
    Scratch,
};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const MANIFEST_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
const CONFIG_TYPE: &str = "application/vnd.oci.image.config.v1+json";
const LAYER_TYPE: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

/// One plugin crate for every test here (`basic` template).
fn plugin_crate() -> &'static Path {
    static CRATE: OnceLock<PathBuf> = OnceLock::new();
    CRATE.get_or_init(|| {
        let parent = shared_target().join("push");
        let _ = std::fs::remove_dir_all(&parent);
        std::fs::create_dir_all(&parent).unwrap();
        new_plugin(&parent, "push-plugin", "basic")
    })
}

fn sha256(bytes: &[u8]) -> String {
    let hash = Sha256::digest(bytes);
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// The `digest: sha256:...` line of a package or push.
fn printed_digest(out: &std::process::Output) -> String {
    stdout(out)
        .lines()
        .find_map(|l| l.strip_prefix("digest: "))
        .unwrap_or_else(|| panic!("no digest line in:\n{}", stdout(out)))
        .to_string()
}

/// The `.wasm` a package or push put in the image (its printed path).
fn printed_wasm(out: &std::process::Output) -> PathBuf {
    let text = stdout(out);
    let line = text
        .lines()
        .find(|l| l.contains(".wasm ("))
        .unwrap_or_else(|| panic!("no .wasm line in:\n{text}"));
    PathBuf::from(line.split(" (").next().unwrap())
}

/// A `docker-registry` on a free loopback port, storage in a scratch folder;
/// killed on drop, also when the test fails.
struct Registry {
    child: Child,
    port: u16,
    _dir: Scratch,
}

impl Registry {
    /// Starts one; with `user`, it wants that user and password (htpasswd).
    fn start(user: Option<(&str, &str)>) -> Registry {
        let found = Command::new("docker-registry")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if found.is_err() {
            panic!("docker-registry is not installed: run scripts/setup (it installs Debian's docker-registry package)");
        }
        let dir = Scratch::new("registry");
        let port = free_port();
        let mut config = format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n\
             http:\n  addr: 127.0.0.1:{port}\n",
            dir.path().join("data").display()
        );
        if let Some((name, password)) = user {
            let hash = bcrypt::hash_with_result(password, 4)
                .unwrap()
                .format_for_version(bcrypt::Version::TwoY);
            let htpasswd = dir.path().join("htpasswd");
            std::fs::write(&htpasswd, format!("{name}:{hash}\n")).unwrap();
            config.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: test-registry\n    path: {}\n",
                htpasswd.display()
            ));
        }
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, config).unwrap();
        let log = std::fs::File::create(dir.path().join("registry.log")).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config_path)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start docker-registry");
        let mut registry = Registry {
            child,
            port,
            _dir: dir,
        };
        registry.wait_until_up();
        registry
    }

    /// Polls `/v2/` until it answers (200, or 401 when it wants credentials).
    fn wait_until_up(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        let agent = ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(2))
            .build();
        loop {
            match agent.get(&format!("{}/v2/", self.base())).call() {
                Ok(_) | Err(ureq::Error::Status(401, _)) => return,
                Err(_) => {}
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                let log = std::fs::read_to_string(self._dir.path().join("registry.log"))
                    .unwrap_or_default();
                panic!("docker-registry exited ({status}):\n{log}");
            }
            assert!(
                Instant::now() < deadline,
                "docker-registry did not come up on port {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What a GET from the registry brought back.
struct Fetched {
    content_type: String,
    digest: Option<String>,
    body: Vec<u8>,
}

fn get(url: &str, accept: &str) -> Fetched {
    let resp = ureq::get(url)
        .set("Accept", accept)
        .call()
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let content_type = resp.content_type().to_string();
    let digest = resp.header("docker-content-digest").map(str::to_string);
    let mut body = Vec::new();
    resp.into_reader().read_to_end(&mut body).unwrap();
    Fetched {
        content_type,
        digest,
        body,
    }
}

/// The tar+gzip layer's entries, name → bytes.
fn untar(layer: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(layer));
    archive
        .entries()
        .unwrap()
        .map(|entry| {
            let mut entry = entry.unwrap();
            let name = entry.path().unwrap().display().to_string();
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes).unwrap();
            (name, bytes)
        })
        .collect()
}

#[test]
fn push_then_pull_back_through_the_registry_api() {
    let plugin = plugin_crate();
    let registry = Registry::start(None);
    let reference = format!("127.0.0.1:{}/team/push-plugin:1.0", registry.port);

    let out = run(plugin, &["push", &reference, "--plain-http"], None);
    assert_ok(&out, "push");
    let digest = printed_digest(&out);
    let wasm = std::fs::read(printed_wasm(&out)).unwrap();
    let printed = stdout(&out);
    assert!(printed.contains("kind: WasmPlugin"), "{printed}");
    assert!(
        printed.contains("apiVersion: extensions.higress.io/v1alpha1"),
        "{printed}"
    );
    assert!(
        printed.contains(&format!("  url: oci://{reference}\n")),
        "{printed}"
    );
    assert!(
        printed.contains("  defaultConfig:\n    headerName: \"x-hello\"\n"),
        "{printed}"
    );

    // The manifest: its media type, its digest, what push printed.
    let repo = format!("{}/v2/team/push-plugin", registry.base());
    let fetched = get(&format!("{repo}/manifests/1.0"), MANIFEST_TYPE);
    assert_eq!(fetched.content_type, MANIFEST_TYPE);
    let manifest_bytes = fetched.body;
    assert_eq!(sha256(&manifest_bytes), digest);
    assert_eq!(fetched.digest.as_deref(), Some(digest.as_str()));
    let manifest: serde_json::Value = serde_json::from_slice(&manifest_bytes).unwrap();
    assert_eq!(manifest["schemaVersion"], 2);
    assert_eq!(manifest["mediaType"], MANIFEST_TYPE);
    assert_eq!(manifest["config"]["mediaType"], CONFIG_TYPE);
    let layers = manifest["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 1, "{manifest}");
    assert_eq!(layers[0]["mediaType"], LAYER_TYPE);

    // Every blob: its digest and size as the manifest says.
    let blob = |descriptor: &serde_json::Value| {
        let digest = descriptor["digest"].as_str().unwrap();
        let bytes = get(&format!("{repo}/blobs/{digest}"), "*/*").body;
        assert_eq!(sha256(&bytes), digest);
        assert_eq!(bytes.len() as u64, descriptor["size"].as_u64().unwrap());
        bytes
    };
    let config: serde_json::Value = serde_json::from_slice(&blob(&manifest["config"])).unwrap();
    let layer = blob(&layers[0]);
    assert_eq!(config["architecture"], "wasm");
    let mut tar = Vec::new();
    flate2::read::GzDecoder::new(&layer[..])
        .read_to_end(&mut tar)
        .unwrap();
    assert_eq!(config["rootfs"]["diff_ids"][0], sha256(&tar));
    let entries = untar(&layer);
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].0, "plugin.wasm");
    assert!(
        entries[0].1 == wasm,
        "plugin.wasm differs from the built .wasm"
    );

    // Again: the same digest (reproducible), the blobs are not sent twice.
    let again = run(plugin, &["push", &reference, "--plain-http"], None);
    assert_ok(&again, "second push");
    assert_eq!(printed_digest(&again), digest);
    assert_eq!(
        stderr(&again).matches("already in the registry").count(),
        2,
        "{}",
        stderr(&again)
    );
}

#[test]
fn push_with_credentials() {
    let plugin = plugin_crate();
    let registry = Registry::start(Some(("tester", "s3cret pass")));
    let reference = format!("127.0.0.1:{}/push-plugin:auth", registry.port);
    let with = |password: Option<&str>| {
        let mut args = vec!["push", reference.as_str(), "--plain-http"];
        if password.is_some() {
            args.extend(["--username", "tester", "--password-stdin"]);
        }
        run(plugin, &args, password)
    };

    let out = with(Some("s3cret pass\n"));
    assert_ok(&out, "push with good credentials");
    let digest = printed_digest(&out);
    assert!(digest.starts_with("sha256:"));

    let out = with(Some("wrong\n"));
    let line = assert_one_line_error(&out, "push with a wrong password");
    assert!(line.contains("credentials refused"), "{line}");
    assert!(
        line.contains(&format!("127.0.0.1:{}", registry.port)),
        "{line}"
    );

    let out = with(None);
    let line = assert_one_line_error(&out, "push without credentials");
    assert!(line.contains("--username"), "{line}");
}

#[test]
fn push_to_a_registry_that_is_down() {
    let plugin = plugin_crate();
    let port = free_port(); // nobody listens there
    let out = run(
        plugin,
        &["push", &format!("127.0.0.1:{port}/p:1"), "--plain-http"],
        None,
    );
    let line = assert_one_line_error(&out, "push to nothing");
    assert!(
        line.contains(&format!("cannot reach registry at http://127.0.0.1:{port}")),
        "{line}"
    );
}

#[test]
fn package_writes_a_reproducible_oci_layout() {
    let plugin = plugin_crate();
    let scratch = Scratch::new("layout");
    let out_dir = scratch.path().join("oci");
    let out_arg = out_dir.to_str().unwrap();

    let out = run(
        plugin,
        &["package", "--out", out_arg, "--tag", "1.2.3"],
        None,
    );
    assert_ok(&out, "package");
    let digest = printed_digest(&out);
    let layout: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("oci-layout")).unwrap()).unwrap();
    assert_eq!(layout["imageLayoutVersion"], "1.0.0");
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("index.json")).unwrap()).unwrap();
    let entry = &index["manifests"][0];
    assert_eq!(entry["digest"], digest.as_str());
    assert_eq!(entry["mediaType"], MANIFEST_TYPE);
    assert_eq!(
        entry["annotations"]["org.opencontainers.image.ref.name"],
        "1.2.3"
    );
    let blobs = out_dir.join("blobs/sha256");
    let mut names: Vec<String> = std::fs::read_dir(&blobs)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names.len(), 3, "{names:?}");
    for name in &names {
        let bytes = std::fs::read(blobs.join(name)).unwrap();
        assert_eq!(sha256(&bytes), format!("sha256:{name}"));
    }

    // Again, over the old layout: same digest; no temporary folder left.
    let again = run(
        plugin,
        &["package", "--out", out_arg, "--tag", "1.2.3"],
        None,
    );
    assert_ok(&again, "second package");
    assert_eq!(printed_digest(&again), digest);
    let left: Vec<_> = std::fs::read_dir(scratch.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, ["oci"]);
}
