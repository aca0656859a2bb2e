//! vzrun as a library: the binary (`main.rs`) is the command line over it,
//! and the fuzz targets (`fuzz/`) reach the parsers of hostile input
//! through [`fuzz`]. Nothing else is meant to link it.

mod cgroups;
pub mod cli;
mod container;
#[doc(hidden)]
pub mod fuzz;
mod linux;
pub mod logging;
mod process;
mod spec;
mod state;
