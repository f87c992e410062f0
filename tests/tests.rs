//! The integration tests, one binary (ripgrep's `tests/tests.rs` pattern): each area is a module
//! of this crate, so the suite links once instead of once per file, and the helpers live in one
//! place, `common/`. Run one area with `cargo test --test tests <module>::` (e.g. `dns::`), the
//! live tests with `cargo test --test tests live_`; docs/testing.md lists the layout.
//!
//! `Cargo.toml` sets `autotests = false`: a file in tests/ is compiled only through a `mod` line
//! here, and `hygiene::every_test_file_is_a_module_of_this_binary` fails when one is missing.

mod common;

mod bundle_input;
mod capture_out;
mod ci_scripts;
mod cli;
mod cluster;
mod cluster_dump;
mod corpus;
mod cri;
mod cuda_oom;
mod debug_node;
mod deploy;
mod disk;
mod distro;
mod dns;
mod fixture_lint;
mod fleet;
mod formats;
mod generated;
mod gpu;
mod gpu_memory;
mod health;
mod hygiene;
mod joins;
mod journal;
mod live;
mod live_bundle;
mod live_cgroup;
mod live_cri;
mod live_debug;
mod live_disk;
mod live_dns;
mod live_hang;
mod live_health;
mod live_oom;
mod live_output;
mod live_root;
mod live_safety;
mod live_sampler;
mod live_shm;
mod live_trust;
mod oom;
mod output_safety;
mod props;
mod remedies;
mod sampler;
mod schema;
mod screen;
mod serve;
mod trust;
mod tui;
mod tui_tmux;
