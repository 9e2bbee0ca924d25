//! `edgevec`: build, search, update and check EdgeVec index files from the command line.
//!
//! ```text
//! edgevec build   --input FILE --output INDEX [--metric l2|cosine|dot] [--m 16]
//!                 [--ef-construction 200] [--quantization none|u8|i8|binary] [--threads N] [--seed S]
//! edgevec search  --index INDEX --queries FILE --k K [--ef EF] [--oversample F] [--rows-in-memory]
//!                 [--threads N] [--output OUT.ivecs]
//! edgevec insert  --index INDEX --input FILE [--start-id N]
//! edgevec delete  --index INDEX (--ids 3,17,42 | --ids-file FILE)
//! edgevec compact --index INDEX
//! edgevec info    --index INDEX
//! edgevec verify  --index INDEX
//! edgevec demo
//! ```
//!
//! Vector files are read by extension: `.fvecs`, `.npy` (2-D little-endian float32, C order)
//! or raw little-endian `.f32` with `--dim D`. Machine-readable results are one JSON line on
//! stdout; errors are a message on stderr with exit status 1 (2 for usage errors).
//!
//! An index is the snapshot `INDEX`, its write-ahead log `INDEX.wal` and the lock file
//! `INDEX.lock`. `insert` and `delete` are each one logged change, durable when the command
//! returns; a process killed at any moment leaves the index as it was before or after that
//! command. `compact` (and any change that makes the log larger than the snapshot) writes a
//! new snapshot. Commands on one index from several processes take turns.
#![forbid(unsafe_code)]

mod commands;
mod demo;
mod error;
mod input;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use edgevec::{Metric, Quantization};

/// Command-line arguments.
#[derive(Debug, Parser)]
#[command(
    name = "edgevec",
    version,
    about = "Build, search, update and check EdgeVec vector index files"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
enum Command {
    /// Build a new index from a vector file (row i gets id i) and save it.
    Build(BuildArgs),
    /// Answer k-nearest-neighbour queries; prints timing as one JSON line.
    Search(SearchArgs),
    /// Add the vectors of a file to an index (row i gets id start-id + i).
    Insert(InsertArgs),
    /// Delete ids from an index (tombstones until `compact`).
    Delete(DeleteArgs),
    /// Remove deleted vectors from an index for real.
    Compact(IndexArg),
    /// Print an index's parameters and counts as one JSON object.
    Info(IndexArg),
    /// Check every checksum and field of an index file.
    Verify(IndexArg),
    /// Build, query, check and reopen an index over an embedded synthetic data set.
    Demo(DemoArgs),
}

/// `--index INDEX`.
#[derive(Debug, Args)]
struct IndexArg {
    /// The index file (.evec).
    #[arg(long, value_name = "INDEX")]
    index: PathBuf,
}

/// Arguments of `build`.
#[derive(Debug, Args)]
struct BuildArgs {
    /// Vectors to index: .fvecs, .npy (float32, 2-D) or .f32 (with --dim).
    #[arg(long, value_name = "FILE")]
    input: PathBuf,
    /// The index file to write (replaced atomically if it exists).
    #[arg(long, value_name = "INDEX")]
    output: PathBuf,
    /// Dimensions of a raw .f32 input (checked against the header of other formats).
    #[arg(long, value_name = "D")]
    dim: Option<usize>,
    /// Distance metric.
    #[arg(long, value_enum, default_value_t = MetricArg::L2)]
    metric: MetricArg,
    /// HNSW M: neighbours per node (2·M on layer 0).
    #[arg(long, default_value_t = 16)]
    m: usize,
    /// Beam width while building.
    #[arg(long, default_value_t = 200)]
    ef_construction: usize,
    /// Graph over compact codes with exact rescoring (u8, i8, binary) or over f32 rows (none).
    #[arg(long, value_enum, default_value_t = QuantArg::None)]
    quantization: QuantArg,
    /// Build threads (0 = all cores).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Seed of the level generator (with --threads 1 the build is reproducible).
    #[arg(long)]
    seed: Option<u64>,
}

/// Arguments of `search`.
#[derive(Debug, Args)]
struct SearchArgs {
    /// The index file.
    #[arg(long, value_name = "INDEX")]
    index: PathBuf,
    /// Query vectors: .fvecs, .npy or .f32 (with --dim).
    #[arg(long, value_name = "FILE")]
    queries: PathBuf,
    /// Dimensions of a raw .f32 query file.
    #[arg(long, value_name = "D")]
    dim: Option<usize>,
    /// Results per query.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    k: u32,
    /// Beam width (default: the index's ef_search).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    ef: Option<u32>,
    /// Quantized indexes: candidates rescored per result, a number from 1 to 1000 such as 1.5
    /// (default: the index's own)
    #[arg(long, value_name = "FACTOR")]
    oversample: Option<f32>,
    /// Quantized indexes: read the exact f32 rows into memory before searching, so that
    /// rescoring reads memory instead of the file (faster, 4 bytes per dimension per vector
    /// more RAM; not timed)
    #[arg(long)]
    rows_in_memory: bool,
    /// Search threads.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    threads: u32,
    /// Write the result ids as .ivecs (k per query, -1 where fewer exist).
    #[arg(long, value_name = "OUT.ivecs")]
    output: Option<PathBuf>,
}

/// Arguments of `insert`.
#[derive(Debug, Args)]
struct InsertArgs {
    /// The index file.
    #[arg(long, value_name = "INDEX")]
    index: PathBuf,
    /// Vectors to add: .fvecs, .npy or .f32 (with --dim).
    #[arg(long, value_name = "FILE")]
    input: PathBuf,
    /// Dimensions of a raw .f32 input.
    #[arg(long, value_name = "D")]
    dim: Option<usize>,
    /// Id of the first row (default: one past the largest id in the index).
    #[arg(long, value_name = "N")]
    start_id: Option<u64>,
}

/// Arguments of `delete`.
#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("which").required(true).multiple(false))]
struct DeleteArgs {
    /// The index file.
    #[arg(long, value_name = "INDEX")]
    index: PathBuf,
    /// Ids to delete, comma-separated.
    #[arg(long, group = "which", value_delimiter = ',', num_args = 1.., value_name = "ID,ID,...")]
    ids: Vec<u64>,
    /// A text file of ids separated by whitespace, commas or newlines.
    #[arg(long, group = "which", value_name = "FILE")]
    ids_file: Option<PathBuf>,
}

/// Arguments of `demo`.
#[derive(Debug, Args)]
struct DemoArgs {
    /// Vectors in the synthetic data set.
    #[arg(long, default_value_t = 20_000, value_parser = clap::value_parser!(u32).range(100..=1_000_000))]
    vectors: u32,
    /// Queries answered.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    queries: u32,
}

/// `--metric`.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum MetricArg {
    /// Squared Euclidean distance.
    L2,
    /// 1 − cosine similarity.
    Cosine,
    /// Negated inner product.
    Dot,
}

impl From<MetricArg> for Metric {
    fn from(m: MetricArg) -> Metric {
        match m {
            MetricArg::L2 => Metric::L2,
            MetricArg::Cosine => Metric::Cosine,
            MetricArg::Dot => Metric::Dot,
        }
    }
}

/// `--quantization`.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum QuantArg {
    /// f32 rows, exact distances.
    None,
    /// One byte per dimension (l2, cosine).
    U8,
    /// One signed byte per dimension (l2, cosine, dot).
    I8,
    /// One bit per dimension.
    Binary,
}

impl From<QuantArg> for Quantization {
    fn from(q: QuantArg) -> Quantization {
        match q {
            QuantArg::None => Quantization::None,
            QuantArg::U8 => Quantization::U8,
            QuantArg::I8 => Quantization::I8,
            QuantArg::Binary => Quantization::Binary,
        }
    }
}

fn main() -> ExitCode {
    // Usage errors exit with status 2 inside `parse`; --help and --version with 0.
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Build(a) => commands::build(&commands::BuildOptions {
            input: a.input,
            output: a.output,
            dim: a.dim,
            metric: a.metric.into(),
            m: a.m,
            ef_construction: a.ef_construction,
            quantization: a.quantization.into(),
            threads: a.threads,
            seed: a.seed,
        }),
        Command::Search(a) => commands::search(&commands::SearchOptions {
            index: a.index,
            queries: a.queries,
            dim: a.dim,
            k: a.k as usize,
            ef: a.ef.map(|e| e as usize),
            oversample: a.oversample,
            rows_in_memory: a.rows_in_memory,
            threads: a.threads as usize,
            output: a.output,
        }),
        Command::Insert(a) => commands::insert(&a.index, &a.input, a.dim, a.start_id),
        Command::Delete(a) => {
            let ids = match &a.ids_file {
                Some(file) => input::read_ids_file(file),
                None => Ok(a.ids),
            };
            ids.and_then(|ids| commands::delete(&a.index, &ids))
        }
        Command::Compact(a) => commands::compact(&a.index),
        Command::Info(a) => commands::info(&a.index),
        Command::Verify(a) => commands::verify(&a.index),
        Command::Demo(a) => demo::run(a.vectors as usize, a.queries as usize),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("edgevec: error: {e}");
            ExitCode::FAILURE
        }
    }
}
