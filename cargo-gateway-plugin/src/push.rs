//! `cargo gateway-plugin push REF`: builds and packages the plugin (see
//! [`crate::package`]) and uploads it over the OCI distribution API:
//! each blob (skipped when `HEAD` finds it), `POST /v2/<name>/blobs/uploads/`
//! then `PUT <location>?digest=...`, and last `PUT /v2/<name>/manifests/<tag>`.
//! Then it prints the digest and a Higress `WasmPlugin` resource for it.
//!
//! Authentication, as registries ask for it on a 401: `Basic` with
//! `--username` and the password from stdin, or the token flow
//! (`WWW-Authenticate: Bearer realm=...,service=...,scope=...`: GET the realm
//! with those credentials, then send the token). HTTPS unless `--plain-http`.

use crate::package::{self, Image};
use crate::project::Plugin;
use anyhow::{anyhow, bail, Context, Result};
use base64::Engine;
use serde_json::Value;
use std::io::Read;
use std::path::PathBuf;
use std::time::Duration;

/// `push`'s options.
#[derive(clap::Args)]
pub struct Args {
    /// Where to push: `registry.example.com[:port]/repository[:tag]` (tag: latest).
    #[arg(value_name = "REF")]
    reference: String,
    /// The registry user; the password comes from stdin (--password-stdin).
    #[arg(long, requires = "password_stdin")]
    username: Option<String>,
    /// Read the password from stdin (one line).
    #[arg(long, requires = "username")]
    password_stdin: bool,
    /// Talk plain HTTP to the registry instead of HTTPS.
    #[arg(long)]
    plain_http: bool,
    /// The plugin crate's Cargo.toml (default: the one around the current folder).
    #[arg(long, value_name = "PATH")]
    manifest_path: Option<PathBuf>,
}

/// A parsed `REF`.
#[derive(Debug, PartialEq, Eq)]
pub struct Reference {
    /// `host[:port]`.
    pub registry: String,
    /// The repository name, `team/plugin`.
    pub repository: String,
    pub tag: String,
}

impl std::fmt::Display for Reference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}:{}", self.registry, self.repository, self.tag)
    }
}

impl Reference {
    /// Parses `host[:port]/name[:tag]` (an `oci://` in front is allowed).
    pub fn parse(text: &str) -> Result<Reference> {
        let bad = |why: &str| anyhow!("invalid image reference `{text}`: {why}");
        let rest = text.strip_prefix("oci://").unwrap_or(text);
        if rest.contains('@') {
            return Err(bad("push needs a tag, not a digest"));
        }
        let (registry, path) = rest
            .split_once('/')
            .ok_or_else(|| bad("expected registry/repository[:tag]"))?;
        if !(registry.contains('.') || registry.contains(':') || registry == "localhost") {
            return Err(bad(
                "it must start with the registry's host (e.g. registry.example.com/team/plugin:1.0)",
            ));
        }
        let (repository, tag) = match path.rsplit_once(':') {
            Some((repo, tag)) if !tag.contains('/') => (repo, tag),
            _ => (path, "latest"),
        };
        let component_ok = |c: &str| {
            !c.is_empty()
                && c.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
                && c.as_bytes()[0].is_ascii_alphanumeric()
        };
        if !repository.split('/').all(component_ok) {
            return Err(bad(
                "repository names are lowercase letters, digits, `.`, `_`, `-`, separated by `/`",
            ));
        }
        let tag_ok = !tag.is_empty()
            && tag.len() <= 128
            && tag
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
            && !tag.starts_with(['.', '-']);
        if !tag_ok {
            return Err(bad("a tag is letters, digits, `.`, `_`, `-` (at most 128)"));
        }
        Ok(Reference {
            registry: registry.to_string(),
            repository: repository.to_string(),
            tag: tag.to_string(),
        })
    }
}

/// Runs `push`.
pub fn run(args: Args) -> Result<()> {
    let reference = Reference::parse(&args.reference)?;
    let credentials = match args.username {
        Some(user) => Some((user, read_password()?)),
        None => None,
    };
    let plugin = Plugin::locate(args.manifest_path.as_deref())?;
    // Read before uploading: a broken config.json should stop the push.
    let default_config = read_config(&plugin)?;
    let scheme = if args.plain_http { "http" } else { "https" };
    let mut registry = Registry::new(scheme, &reference, credentials);
    // Before the build: a registry that is down or refuses us fails fast.
    registry.ping()?;
    let (wasm, image) = package::build_image(&plugin)?;
    registry.push(&image, &reference.tag)?;
    crate::build::print_artifact(&wasm)?;
    println!("pushed {reference}");
    println!("digest: {}", image.manifest.digest);
    println!();
    print!(
        "{}",
        wasm_plugin_yaml(&plugin.name, &reference, default_config.as_ref())
    );
    Ok(())
}

/// The password, the first line of stdin.
fn read_password() -> Result<String> {
    let mut input = String::new();
    std::io::stdin()
        .read_to_string(&mut input)
        .context("cannot read the password from stdin")?;
    let password = input.lines().next().unwrap_or("").to_string();
    if password.is_empty() {
        bail!("--password-stdin: stdin held no password");
    }
    Ok(password)
}

/// The crate's `config.json`, if it has one.
fn read_config(plugin: &Plugin) -> Result<Option<Value>> {
    let path = plugin.dir.join("config.json");
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(err).with_context(|| format!("cannot read {}", path.display())),
    };
    let json = serde_json::from_str(&text)
        .with_context(|| format!("{} is not valid JSON", path.display()))?;
    Ok(Some(json))
}

/// A registry session: where it is, who we are, and the `Authorization`
/// it accepted last.
struct Registry {
    agent: ureq::Agent,
    /// `https://host:port`.
    base: String,
    repository: String,
    credentials: Option<(String, String)>,
    authorization: Option<String>,
}

impl Registry {
    fn new(scheme: &str, reference: &Reference, credentials: Option<(String, String)>) -> Registry {
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(Duration::from_secs(10))
            .timeout(Duration::from_secs(300))
            .user_agent(concat!("cargo-gateway-plugin/", env!("CARGO_PKG_VERSION")))
            .build();
        Registry {
            agent,
            base: format!("{scheme}://{}", reference.registry),
            repository: reference.repository.clone(),
            credentials,
            authorization: None,
        }
    }

    /// `GET /v2/`, the API's base: a registry that is down, is not one, or
    /// refuses the credentials says so here.
    fn ping(&mut self) -> Result<()> {
        self.send("GET", &format!("{}/v2/", self.base), &[], None)?;
        Ok(())
    }

    /// Uploads the blobs the registry lacks, then the manifest under `tag`.
    fn push(&mut self, image: &Image, tag: &str) -> Result<()> {
        for blob in image.blobs() {
            let url = format!("{}/v2/{}/blobs/{}", self.base, self.repository, blob.digest);
            if self.exists(&url)? {
                eprintln!("note: blob {} already in the registry", blob.digest);
                continue;
            }
            let start = format!("{}/v2/{}/blobs/uploads/", self.base, self.repository);
            let resp = self.send("POST", &start, &[("Content-Length", "0")], Some(&[]))?;
            let location = resp.header("location").ok_or_else(|| {
                anyhow!("registry {}: upload started without a Location", self.base)
            })?;
            let mut upload = if location.starts_with("http://") || location.starts_with("https://")
            {
                location.to_string()
            } else {
                format!("{}{location}", self.base)
            };
            upload.push(if upload.contains('?') { '&' } else { '?' });
            upload.push_str("digest=");
            upload.push_str(&blob.digest.replace(':', "%3A"));
            self.send(
                "PUT",
                &upload,
                &[("Content-Type", "application/octet-stream")],
                Some(&blob.bytes),
            )?;
        }
        let url = format!("{}/v2/{}/manifests/{tag}", self.base, self.repository);
        let resp = self.send(
            "PUT",
            &url,
            &[("Content-Type", package::MANIFEST_TYPE)],
            Some(&image.manifest.bytes),
        )?;
        if let Some(digest) = resp.header("docker-content-digest") {
            if digest != image.manifest.digest {
                bail!(
                    "registry {} stored the manifest as {digest}, not {}",
                    self.base,
                    image.manifest.digest
                );
            }
        }
        Ok(())
    }

    /// Whether a blob is there (`HEAD` answers 200, not 404).
    fn exists(&mut self, url: &str) -> Result<bool> {
        match self.send("HEAD", url, &[], None) {
            Ok(_) => Ok(true),
            Err(err) if err.downcast_ref::<NotFound>().is_some() => Ok(false),
            Err(err) => Err(err),
        }
    }

    /// One request; on a 401, authenticates as the registry asks and tries
    /// once more.
    fn send(
        &mut self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Result<ureq::Response> {
        let mut authenticated = false;
        loop {
            let mut request = self.agent.request(method, url);
            for (name, value) in headers {
                request = request.set(name, value);
            }
            if let Some(authorization) = &self.authorization {
                request = request.set("Authorization", authorization);
            }
            let result = match body {
                Some(body) => request.send_bytes(body),
                None => request.call(),
            };
            match result {
                Ok(resp) => return Ok(resp),
                Err(ureq::Error::Status(401, resp)) if !authenticated => {
                    let challenge = resp.header("www-authenticate").unwrap_or("").to_string();
                    self.authenticate(&challenge)?;
                    authenticated = true;
                }
                Err(ureq::Error::Status(401, _)) => return Err(self.refused()),
                Err(ureq::Error::Status(404, _)) if method == "HEAD" => return Err(NotFound.into()),
                Err(ureq::Error::Status(code, resp)) => {
                    let path = url.strip_prefix(&self.base).unwrap_or(url);
                    let path = path.split('?').next().unwrap_or(path);
                    let detail = resp.into_string().unwrap_or_default();
                    let detail: String = detail.trim().chars().take(300).collect();
                    bail!(
                        "registry {}: {method} {path} answered {code} {detail}",
                        self.base
                    );
                }
                Err(ureq::Error::Transport(err)) => return Err(self.unreachable(&err)),
            }
        }
    }

    /// Sets `authorization` from a 401's `WWW-Authenticate`.
    fn authenticate(&mut self, challenge: &str) -> Result<()> {
        let (scheme, params) = parse_challenge(challenge);
        let Some((user, password)) = self.credentials.clone() else {
            bail!(
                "registry {} asks for credentials: pass --username and --password-stdin",
                self.base
            );
        };
        let basic = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
        );
        if scheme.eq_ignore_ascii_case("bearer") {
            let realm = params
                .iter()
                .find(|(k, _)| k == "realm")
                .map(|(_, v)| v.clone())
                .ok_or_else(|| {
                    anyhow!("registry {}: a Bearer challenge without a realm", self.base)
                })?;
            let mut request = self.agent.get(&realm).set("Authorization", &basic);
            if let Some((_, service)) = params.iter().find(|(k, _)| k == "service") {
                request = request.query("service", service);
            }
            // The challenge's scope, and always push and pull on ours (a
            // HEAD's challenge asks for pull only; the upload needs push).
            let ours = format!("repository:{}:pull,push", self.repository);
            if let Some((_, scope)) = params.iter().find(|(k, _)| k == "scope") {
                if *scope != ours {
                    request = request.query("scope", scope);
                }
            }
            request = request.query("scope", &ours);
            let token: Value = match request.call() {
                Ok(resp) => resp
                    .into_string()
                    .ok()
                    .and_then(|text| serde_json::from_str(&text).ok())
                    .ok_or_else(|| anyhow!("token service {realm}: not a JSON answer"))?,
                Err(ureq::Error::Status(401 | 403, _)) => return Err(self.refused()),
                Err(ureq::Error::Status(code, _)) => bail!("token service {realm} answered {code}"),
                Err(ureq::Error::Transport(err)) => {
                    bail!("cannot reach the token service at {realm}: {err}")
                }
            };
            let token = token
                .get("token")
                .or_else(|| token.get("access_token"))
                .and_then(Value::as_str)
                .ok_or_else(|| anyhow!("token service {realm}: no token in its answer"))?;
            self.authorization = Some(format!("Bearer {token}"));
        } else {
            // `Basic realm=...`, or no challenge at all: Basic it is.
            self.authorization = Some(basic);
        }
        Ok(())
    }

    fn refused(&self) -> anyhow::Error {
        anyhow!("registry {}: credentials refused", self.base)
    }

    fn unreachable(&self, err: &ureq::Transport) -> anyhow::Error {
        let message = err.to_string();
        let hint = if self.base.starts_with("https:")
            && (message.contains("corrupt message") || message.contains("InvalidContentType"))
        {
            " (a plain-HTTP registry? use --plain-http)"
        } else {
            ""
        };
        // ureq's own Display repeats the URL; its parts say it shorter.
        let parts: Vec<String> = err
            .message()
            .map(str::to_string)
            .into_iter()
            .chain(std::error::Error::source(err).map(|s| s.to_string()))
            .collect();
        let cause = if parts.is_empty() {
            err.kind().to_string()
        } else {
            parts.join(": ")
        };
        anyhow!("cannot reach registry at {}: {cause}{hint}", self.base)
    }
}

/// A `HEAD` answered 404.
#[derive(Debug)]
struct NotFound;

impl std::fmt::Display for NotFound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("not found")
    }
}

impl std::error::Error for NotFound {}

/// `Bearer realm="https://r/token",service="r",scope="repository:a:pull"`
/// → (`Bearer`, [(realm, ...), (service, ...), (scope, ...)]).
fn parse_challenge(header: &str) -> (String, Vec<(String, String)>) {
    let header = header.trim();
    let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
    let mut params = Vec::new();
    let mut chars = rest.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if key.is_empty() {
            break;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            while let Some(c) = chars.peek().copied() {
                if c == ',' {
                    break;
                }
                value.push(c);
                chars.next();
            }
        }
        params.push((key.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
    (scheme.to_string(), params)
}

/// The Higress `WasmPlugin` resource that loads the pushed image.
fn wasm_plugin_yaml(name: &str, reference: &Reference, config: Option<&Value>) -> String {
    // A Kubernetes name: lowercase, `-` instead of `_`.
    let name = name.to_ascii_lowercase().replace('_', "-");
    let mut yaml = format!(
        "apiVersion: extensions.higress.io/v1alpha1\n\
         kind: WasmPlugin\n\
         metadata:\n  name: {name}\n  namespace: higress-system\n\
         spec:\n  url: oci://{reference}\n  phase: UNSPECIFIED_PHASE\n  priority: 100\n"
    );
    if let Some(config) = config {
        yaml_entry(&mut yaml, 2, "defaultConfig", config);
    }
    yaml
}

/// Writes `key: value` at `indent`, as block YAML.
fn yaml_entry(out: &mut String, indent: usize, key: &str, value: &Value) {
    let pad = " ".repeat(indent);
    let key = yaml_key(key);
    match value {
        Value::Object(map) if !map.is_empty() => {
            out.push_str(&format!("{pad}{key}:\n"));
            for (k, v) in map {
                yaml_entry(out, indent + 2, k, v);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            out.push_str(&format!("{pad}{key}:\n"));
            for item in items {
                yaml_item(out, indent + 2, item);
            }
        }
        scalar => out.push_str(&format!("{pad}{key}: {}\n", yaml_scalar(scalar))),
    }
}

/// Writes `- item` at `indent`.
fn yaml_item(out: &mut String, indent: usize, value: &Value) {
    let pad = " ".repeat(indent);
    let mut block = String::new();
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                yaml_entry(&mut block, indent + 2, k, v);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for item in items {
                yaml_item(&mut block, indent + 2, item);
            }
        }
        scalar => {
            out.push_str(&format!("{pad}- {}\n", yaml_scalar(scalar)));
            return;
        }
    }
    // The block's first line starts after the dash.
    out.push_str(&format!("{pad}- {}", &block[indent + 2..]));
}

/// A scalar: JSON's forms are YAML's (a JSON string is a valid
/// double-quoted YAML scalar); empty collections in flow style.
fn yaml_scalar(value: &Value) -> String {
    match value {
        Value::Object(_) => "{}".to_string(),
        Value::Array(_) => "[]".to_string(),
        other => other.to_string(),
    }
}

/// A key, plain when YAML reads it back as the same string.
fn yaml_key(key: &str) -> String {
    let plain = key
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && !matches!(
            key.to_ascii_lowercase().as_str(),
            "true" | "false" | "null" | "yes" | "no" | "on" | "off" | "y" | "n"
        );
    if plain {
        key.to_string()
    } else {
        Value::String(key.to_string()).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn references() {
        let r = Reference::parse("127.0.0.1:5000/my-plugin:1.0").unwrap();
        assert_eq!(r.registry, "127.0.0.1:5000");
        assert_eq!(r.repository, "my-plugin");
        assert_eq!(r.tag, "1.0");
        let r = Reference::parse("oci://registry.example.com/team/plugin").unwrap();
        assert_eq!(
            (r.repository.as_str(), r.tag.as_str()),
            ("team/plugin", "latest")
        );
        for bad in [
            "plugin:1.0",
            "team/plugin",
            "r.io/Plugin",
            "r.io/p@sha256:00",
            "r.io/p:",
            "r.io/",
        ] {
            assert!(Reference::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn challenges() {
        let (scheme, params) = parse_challenge(
            r#"Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:a/b:pull,push""#,
        );
        assert_eq!(scheme, "Bearer");
        assert_eq!(
            params,
            vec![
                ("realm".into(), "https://auth.example.com/token".into()),
                ("service".into(), "registry.example.com".into()),
                ("scope".into(), "repository:a/b:pull,push".into()),
            ]
        );
        assert_eq!(
            parse_challenge(r#"Basic realm="Registry Realm""#).0,
            "Basic"
        );
    }

    #[test]
    fn yaml_of_a_config() {
        let reference = Reference::parse("r.io/p:1").unwrap();
        let config =
            json!({"a": 1, "list": [{"x": "y", "z": [1, 2]}, "s"], "empty": {}, "yes": "no"});
        let yaml = wasm_plugin_yaml("my_plugin", &reference, Some(&config));
        assert!(yaml.contains("  name: my-plugin\n"), "{yaml}");
        assert!(yaml.contains("  url: oci://r.io/p:1\n"), "{yaml}");
        assert!(
            yaml.ends_with(
                "  defaultConfig:\n    a: 1\n    empty: {}\n    list:\n      - x: \"y\"\n        z:\n          - 1\n          - 2\n      - \"s\"\n    \"yes\": \"no\"\n"
            ),
            "{yaml}"
        );
    }
}
