//! Read-side queries for the CLI.
