//! The typed report of each area command (`check`, `disk`, `dns`, `gpu`): built from a
//! snapshot and its findings, serialized as that command's JSON (each with a published schema
//! under docs/schema/), printed as text by `render/<area>.rs` and shown by the TUI view of the
//! same area. Building a report judges nothing new: it gathers what the rules and the
//! snapshot already say, in the shape one area's reader wants.

pub mod check;
pub mod disk;
pub mod dns;
pub mod fleet;
pub mod gpu;
pub mod group;
pub mod rules;

/// The published JSON Schema of `T` (docs/schema/*.schema.json): pretty JSON and a newline, the
/// bytes `tests/generated.rs` compares with the committed file.
pub fn schema_json<T: schemars::JsonSchema>() -> String {
    let mut s = serde_json::to_string_pretty(&schemars::schema_for!(T)).unwrap_or_default();
    s.push('\n');
    s
}
