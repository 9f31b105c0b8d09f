//! trybuild cases live in `tests/pass` and `tests/fail`; see `tests/ui.rs`.
