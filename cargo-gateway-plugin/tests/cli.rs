//! Bad input: each is one line on stderr, exit code 1, nothing written.

mod common;

use common::{assert_ok, assert_one_line_error, run, stdout, Scratch};

#[test]
fn new_refuses_an_existing_folder_and_leaves_it_alone() {
    let scratch = Scratch::new("exists");
    let dir = scratch.path().join("taken");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("keep.txt"), "mine").unwrap();

    let out = run(scratch.path(), &["new", "taken"], None);
    let line = assert_one_line_error(&out, "new into an existing folder");
    assert!(line.contains("already exists"), "{line}");
    let entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(entries, ["keep.txt"]);
    assert_eq!(
        std::fs::read_to_string(dir.join("keep.txt")).unwrap(),
        "mine"
    );
}

#[test]
fn new_refuses_a_file_of_that_name_too() {
    let scratch = Scratch::new("file");
    std::fs::write(scratch.path().join("taken"), "mine").unwrap();
    let out = run(scratch.path(), &["new", "taken"], None);
    assert_one_line_error(&out, "new over a file");
    assert_eq!(
        std::fs::read_to_string(scratch.path().join("taken")).unwrap(),
        "mine"
    );
}

#[test]
fn new_refuses_an_unknown_template() {
    let scratch = Scratch::new("template");
    let out = run(
        scratch.path(),
        &["new", "good-name", "--template", "grpc"],
        None,
    );
    let line = assert_one_line_error(&out, "unknown template");
    assert!(
        line.contains("grpc") && line.contains("http-call"),
        "{line}"
    );
    assert!(!scratch.path().join("good-name").exists());
}

#[test]
fn new_refuses_bad_crate_names() {
    let scratch = Scratch::new("names");
    for bad in [
        "2fast",
        "my plugin",
        "my.plugin",
        "fn",
        "gateway-plugin",
        "-x",
    ] {
        let out = run(scratch.path(), &["new", bad], None);
        let line = assert_one_line_error(&out, &format!("new {bad:?}"));
        assert!(
            line.contains("crate name") || line.contains("unexpected argument"),
            "{line}"
        );
    }
    assert_eq!(
        std::fs::read_dir(scratch.path()).unwrap().count(),
        0,
        "nothing written"
    );
}

#[test]
fn new_writes_a_complete_crate_with_a_path_dependency() {
    let scratch = Scratch::new("new");
    let out = run(scratch.path(), &["new", "fresh"], None);
    assert_ok(&out, "new fresh");
    let dir = scratch.path().join("fresh");
    for file in [
        "Cargo.toml",
        "README.md",
        "config.json",
        ".gitignore",
        "src/lib.rs",
        "tests/plugin.rs",
    ] {
        assert!(dir.join(file).is_file(), "{file}");
    }
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
    let framework = common::repo_root().join("gateway-plugin");
    assert!(
        manifest.contains(&format!("path = '{}'", framework.display())),
        "{manifest}"
    );
    assert!(manifest.contains("\n[workspace]\n"), "{manifest}");
    assert!(manifest.contains("crate-type = [\"cdylib\"]"), "{manifest}");
    let lib = std::fs::read_to_string(dir.join("src/lib.rs")).unwrap();
    assert!(lib.contains("#[plugin(name = \"fresh\")]"), "{lib}");
}

#[test]
fn new_refuses_a_framework_folder_without_the_crates() {
    let scratch = Scratch::new("framework");
    let out = run(
        scratch.path(),
        &[
            "new",
            "fresh",
            "--path-to-framework",
            scratch.path().to_str().unwrap(),
        ],
        None,
    );
    let line = assert_one_line_error(&out, "--path-to-framework of an empty folder");
    assert!(line.contains("gateway-plugin/Cargo.toml"), "{line}");
    assert!(!scratch.path().join("fresh").exists());
}

#[test]
fn build_outside_a_crate_says_so() {
    let scratch = Scratch::new("nocrate");
    let out = run(scratch.path(), &["build"], None);
    let line = assert_one_line_error(&out, "build outside a crate");
    assert!(line.contains("Cargo.toml"), "{line}");
}

#[test]
fn push_refuses_a_reference_without_a_registry() {
    let scratch = Scratch::new("ref");
    let out = run(scratch.path(), &["push", "my-plugin:1.0"], None);
    let line = assert_one_line_error(&out, "push my-plugin:1.0");
    assert!(line.contains("registry"), "{line}");
}

#[test]
fn push_needs_both_username_and_password_stdin() {
    let scratch = Scratch::new("creds");
    let out = run(
        scratch.path(),
        &["push", "localhost:1/p:1", "--username", "u"],
        None,
    );
    assert_one_line_error(&out, "--username without --password-stdin");
}

#[test]
fn runs_as_cargo_runs_it_and_directly() {
    let scratch = Scratch::new("version");
    for args in [&["gateway-plugin", "--version"][..], &["--version"][..]] {
        let out = run(scratch.path(), args, None);
        assert_ok(&out, "--version");
        assert!(
            stdout(&out).contains(env!("CARGO_PKG_VERSION")),
            "{}",
            stdout(&out)
        );
    }
    let out = run(scratch.path(), &["gateway-plugin", "new", "2bad"], None);
    assert_one_line_error(&out, "cargo-style new 2bad");
}
