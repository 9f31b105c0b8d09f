//! `cargo gateway-plugin package`: the plugin as an OCI image, written as an
//! OCI image layout (`oci-layout`, `index.json`, `blobs/sha256/...`).
//!
//! # The image format, and why
//!
//! What the gateways accept, read in their sources and docs:
//!
//! - Istio's Wasm image fetcher (`istio/istio`, `pkg/wasm/imagefetcher.go`,
//!   which Higress's Istio fork `higress-group/istio` carries too) follows
//!   the Wasm image specification of solo-io/wasm (`spec/spec-compat.md`,
//!   `spec/spec.md`). It accepts three shapes: a Docker image
//!   (`application/vnd.docker.distribution.manifest.v2+json`, last layer
//!   `application/vnd.docker.image.rootfs.diff.tar.gzip`); the *compat*
//!   variant, an OCI image whose last layer is
//!   `application/vnd.oci.image.layer.v1.tar+gzip` and whose tar holds a file
//!   named `plugin.wasm` (any folder: it compares the base name); and the
//!   *oci* variant, exactly two layers, one of them the raw module as
//!   `application/vnd.module.wasm.content.layer.v1+wasm`. It tries the
//!   compat variant before the oci one.
//! - Higress's "Wasm Plugin Image Specification" (higress.cn,
//!   `docs/latest/user/wasm-image-spec`) asks for an OCI image whose last
//!   layer holds `plugin.wasm` with media type
//!   `application/vnd.oci.image.layer.v1.tar+gzip`, one file per layer
//!   (the other, optional layers carry `spec.yaml`, README and icon, for its
//!   plugin market).
//! - Envoy Gateway's "Build a Wasm image" task documents the same two OCI
//!   shapes (a `FROM scratch` + `COPY plugin.wasm` image, or the OCI one).
//!
//! The shape all of them accept is the compat variant, so that is what this
//! writes: an image manifest (`application/vnd.oci.image.manifest.v1+json`,
//! schema 2), a config blob (`application/vnd.oci.image.config.v1+json`: a
//! minimal valid image config, `wasm`/`wasi` platform, the layer's diff id),
//! and exactly one layer, `application/vnd.oci.image.layer.v1.tar+gzip`,
//! whose tar holds `plugin.wasm`. Registries store it like any image, and
//! `docker`/`crane`/`oras` can pull it.
//!
//! The layer is reproducible — one tar entry with mtime 0, mode 0644,
//! uid/gid 0, no user names, and a gzip header without a time or name —
//! and nothing in the config or manifest carries a date, so the same
//! `.wasm` always gives the same manifest digest.

use crate::build;
use crate::project::Plugin;
use anyhow::{bail, Context, Result};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The manifest's media type.
pub const MANIFEST_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
/// The config blob's media type.
pub const CONFIG_TYPE: &str = "application/vnd.oci.image.config.v1+json";
/// The one layer's media type (the compat variant).
pub const LAYER_TYPE: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
/// The module's name in the layer's tar, which the fetchers look for.
pub const WASM_FILE: &str = "plugin.wasm";

/// `package`'s options.
#[derive(clap::Args)]
pub struct Args {
    /// The image's reference name in index.json (default: the crate's version).
    #[arg(long, value_name = "REF")]
    tag: Option<String>,
    /// The layout's folder (default: <target dir>/gateway-plugin/oci).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// The plugin crate's Cargo.toml (default: the one around the current folder).
    #[arg(long, value_name = "PATH")]
    manifest_path: Option<PathBuf>,
}

/// A content-addressed blob.
pub struct Blob {
    pub media_type: &'static str,
    pub bytes: Vec<u8>,
    /// `sha256:<hex>` of `bytes`.
    pub digest: String,
}

impl Blob {
    fn new(media_type: &'static str, bytes: Vec<u8>) -> Blob {
        Blob {
            media_type,
            digest: sha256(&bytes),
            bytes,
        }
    }

    /// Its OCI descriptor.
    fn descriptor(&self) -> serde_json::Value {
        json!({
            "mediaType": self.media_type,
            "digest": self.digest,
            "size": self.bytes.len(),
        })
    }
}

/// The plugin's image: a manifest, its config and its one layer.
pub struct Image {
    pub manifest: Blob,
    pub config: Blob,
    pub layer: Blob,
}

/// `sha256:<hex>`.
pub fn sha256(bytes: &[u8]) -> String {
    let hash = Sha256::digest(bytes);
    let mut hex = String::with_capacity(7 + 64);
    hex.push_str("sha256:");
    for byte in hash {
        hex.push_str(&format!("{byte:02x}"));
    }
    hex
}

impl Image {
    /// The image of a compiled plugin.
    pub fn from_wasm(wasm: &[u8]) -> Result<Image> {
        let tar = layer_tar(wasm)?;
        let diff_id = sha256(&tar);
        let layer = Blob::new(LAYER_TYPE, gzip(&tar)?);
        // A minimal valid OCI image config: platform, and the layer's
        // uncompressed digest. No `created`: the digest must not change.
        let config = json!({
            "architecture": "wasm",
            "os": "wasi",
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        });
        let config = Blob::new(CONFIG_TYPE, serde_json::to_vec(&config)?);
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": MANIFEST_TYPE,
            "config": config.descriptor(),
            "layers": [layer.descriptor()],
        });
        let manifest = Blob::new(MANIFEST_TYPE, serde_json::to_vec(&manifest)?);
        Ok(Image {
            manifest,
            config,
            layer,
        })
    }

    /// The blobs a registry needs before the manifest, in upload order.
    pub fn blobs(&self) -> [&Blob; 2] {
        [&self.layer, &self.config]
    }
}

/// A tar with one entry, `plugin.wasm`, and no varying metadata.
fn layer_tar(wasm: &[u8]) -> Result<Vec<u8>> {
    let mut header = tar::Header::new_ustar();
    header.set_path(WASM_FILE)?;
    header.set_size(wasm.len() as u64);
    header.set_mode(0o644);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(0);
    header.set_entry_type(tar::EntryType::Regular);
    header.set_cksum();
    let mut builder = tar::Builder::new(Vec::new());
    builder.append(&header, wasm)?;
    Ok(builder.into_inner()?)
}

/// Gzip with a fixed header (no time, no name), so it is reproducible.
fn gzip(bytes: &[u8]) -> Result<Vec<u8>> {
    let mut encoder = flate2::GzBuilder::new()
        .mtime(0)
        .operating_system(255) // "unknown": the same on every machine
        .write(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes)?;
    Ok(encoder.finish()?)
}

/// Runs `package`.
pub fn run(args: Args) -> Result<()> {
    let plugin = Plugin::locate(args.manifest_path.as_deref())?;
    let (wasm, image) = build_image(&plugin)?;
    let out = args
        .out
        .unwrap_or_else(|| plugin.target_dir.join("gateway-plugin").join("oci"));
    let tag = args.tag.unwrap_or_else(|| plugin.version.clone());
    write_layout(&image, &out, &tag)?;
    build::print_artifact(&wasm)?;
    println!("wrote an OCI image layout to {} (ref {tag})", out.display());
    println!("digest: {}", image.manifest.digest);
    Ok(())
}

/// Builds the plugin as deployed (release, and `wasm-opt -Oz` when
/// installed) and makes its image.
pub fn build_image(plugin: &Plugin) -> Result<(PathBuf, Image)> {
    let wasm_path = build::build(plugin, true, build::have_wasm_opt())?;
    let wasm = std::fs::read(&wasm_path)
        .with_context(|| format!("cannot read {}", wasm_path.display()))?;
    Ok((wasm_path, Image::from_wasm(&wasm)?))
}

/// Writes the image as an OCI image layout to `out`, replacing what is
/// there. It is written to a folder next to `out` first and renamed at the
/// end: a failure leaves no half-written layout behind.
pub fn write_layout(image: &Image, out: &Path, tag: &str) -> Result<()> {
    let name = out
        .file_name()
        .with_context(|| format!("--out {}: not a folder name", out.display()))?
        .to_string_lossy()
        .into_owned();
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent)
        .with_context(|| format!("cannot create {}", parent.display()))?;
    let temp = parent.join(format!(".{name}.tmp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&temp);
    let written = write_layout_files(image, &temp, tag).and_then(|()| replace_dir(&temp, out));
    if written.is_err() {
        let _ = std::fs::remove_dir_all(&temp);
    }
    written
}

fn write_layout_files(image: &Image, dir: &Path, tag: &str) -> Result<()> {
    let blobs = dir.join("blobs").join("sha256");
    std::fs::create_dir_all(&blobs)
        .with_context(|| format!("cannot create {}", blobs.display()))?;
    for blob in [&image.manifest, &image.config, &image.layer] {
        let hex = blob.digest.trim_start_matches("sha256:");
        std::fs::write(blobs.join(hex), &blob.bytes)
            .with_context(|| format!("cannot write blob {}", blob.digest))?;
    }
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#)
        .context("cannot write oci-layout")?;
    let mut manifest = image.manifest.descriptor();
    manifest["annotations"] = json!({"org.opencontainers.image.ref.name": tag});
    let index = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [manifest],
    });
    std::fs::write(dir.join("index.json"), serde_json::to_vec_pretty(&index)?)
        .context("cannot write index.json")?;
    Ok(())
}

/// Puts `new` where `old` is: the old folder moves aside, the new one in,
/// then the old one goes.
fn replace_dir(new: &Path, old: &Path) -> Result<()> {
    if old.exists() {
        if !old.join("oci-layout").is_file() {
            bail!(
                "{} exists and is not an OCI image layout; not replacing it",
                old.display()
            );
        }
        let aside = new.with_extension("old");
        let _ = std::fs::remove_dir_all(&aside);
        std::fs::rename(old, &aside)
            .with_context(|| format!("cannot move {} aside", old.display()))?;
        std::fs::rename(new, old).with_context(|| format!("cannot write {}", old.display()))?;
        let _ = std::fs::remove_dir_all(&aside);
    } else {
        std::fs::rename(new, old).with_context(|| format!("cannot write {}", old.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_wasm_gives_the_same_digests() {
        let a = Image::from_wasm(b"\0asm\x01\0\0\0").unwrap();
        let b = Image::from_wasm(b"\0asm\x01\0\0\0").unwrap();
        assert_eq!(a.manifest.digest, b.manifest.digest);
        assert_eq!(a.layer.bytes, b.layer.bytes);
        let c = Image::from_wasm(b"\0asm\x01\0\0\0\0").unwrap();
        assert_ne!(a.manifest.digest, c.manifest.digest);
    }

    #[test]
    fn the_layer_holds_plugin_wasm() {
        let image = Image::from_wasm(b"module").unwrap();
        let gz = flate2::read::GzDecoder::new(&image.layer.bytes[..]);
        let mut tar = tar::Archive::new(gz);
        let mut entries = tar.entries().unwrap();
        let mut entry = entries.next().unwrap().unwrap();
        assert_eq!(entry.path().unwrap().to_str(), Some(WASM_FILE));
        assert_eq!(entry.header().mode().unwrap(), 0o644);
        assert_eq!(entry.header().mtime().unwrap(), 0);
        let mut body = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut body).unwrap();
        assert_eq!(body, b"module");
        assert!(entries.next().is_none());
    }
}
