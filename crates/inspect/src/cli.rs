//! The command line of dcf-inspect, apart from what it does so that the man page is made
//! from the same definition (`cargo run -p dcf-inspect --example man`).

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "dcf-inspect",
    version,
    about = "Inspect and repair a libdcf data directory (DATA_PATH) of a stopped node",
    long_about = "Looks into the data directory (DATA_PATH) of a stopped libdcf node: its \
        streams, stored membership and hard state, log range and segments. A directory whose \
        LOCK a running node holds is refused unless --read-only is given. It reads the C \
        library's (DCF's) layout too. Only `repair` writes into DATA_PATH, and only through \
        the library's own recovery; `export-dcf` writes a new directory in DCF's layout.",
    disable_help_subcommand = true
)]
pub struct Cli {
    /// Read even while a running node holds the DATA_PATH lock (what is read may be
    /// changing underneath).
    #[arg(long, global = true)]
    pub read_only: bool,
    /// Read DCF's layout (the C library's files) even where streams of this library are
    /// beside it, as after an adoption. Without it DCF's layout is read when it is all
    /// there is.
    #[arg(long, global = true)]
    pub dcf: bool,
    #[command(subcommand)]
    pub cmd: Cmd,
}

#[derive(Subcommand)]
pub enum Cmd {
    /// Streams, stored membership and hard state, log range, segments and free space.
    Info {
        /// The node's DATA_PATH.
        dir: PathBuf,
    },
    /// Read every record and check every checksum; exit 1 on damage or a torn tail.
    Verify {
        /// The node's DATA_PATH.
        dir: PathBuf,
    },
    /// Print the entries from..=to of a stream.
    Dump {
        /// The node's DATA_PATH.
        dir: PathBuf,
        /// The stream.
        #[arg(long, default_value_t = 1)]
        stream: u32,
        /// The first index shown.
        #[arg(long, default_value_t = 0)]
        from: u64,
        /// The last index shown.
        #[arg(long, default_value_t = u64::MAX)]
        to: u64,
        /// One JSON object per entry and line.
        #[arg(long)]
        json: bool,
    },
    /// Write OUT, a data directory in DCF's layout holding DIR's log, stored membership and
    /// hard state, on which the original C library starts (the way back after an upgrade).
    ExportDcf {
        /// The node's DATA_PATH (this library's layout).
        dir: PathBuf,
        /// The directory to create in DCF's layout; it must not exist or be empty.
        out: PathBuf,
    },
    /// Cut a torn tail exactly as a starting node would; nothing else is changed.
    Repair {
        /// The node's DATA_PATH.
        dir: PathBuf,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
}
