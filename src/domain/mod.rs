//! The pure core: no tokio, rusqlite, network, filesystem or clock. Data in,
//! decisions out; the clock and randomness arrive as arguments.

pub mod access;
pub mod address;
pub mod authres;
pub mod budget;
pub mod classify;
pub mod commands;
pub mod decide;
pub mod digest;
pub mod html;
pub mod message;
pub mod model;
pub mod normalize;
pub mod notify;
pub mod quotes;
pub mod rawmail;
pub mod report;
pub mod retry;
pub mod rules;
pub mod state;
pub mod status;
pub mod tag;
pub mod threading;
pub mod time;
pub mod verify;
pub mod watchers;
pub mod web;
