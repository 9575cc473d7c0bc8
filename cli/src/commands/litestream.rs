//! `orq litestream-config`: a Litestream configuration that replicates the
//! database continuously, as `orq systemd-unit` prints a unit. Litestream
//! (a program of its own) ships each commit's WAL frames to the replica
//! within the sync interval, and restores the latest state or the state at
//! a time (docs/scale-out.md).

use clap::Args;

use crate::duration::parse_seconds;
use crate::exit::{usage, Code, Result};

#[derive(Args)]
pub struct LitestreamArgs {
    /// Where the replica goes: a directory, or a URL Litestream knows (s3://BUCKET/PATH, gs://, abs://, sftp://)
    replica: String,
    /// How often Litestream ships new commits: at most this much is lost when the machine dies (1s, 500ms)
    #[arg(long, value_parser = parse_seconds, default_value = "1s")]
    sync_interval: f64,
}

/// Prints the configuration (YAML) for the database at `db`.
pub fn config(db: &std::path::Path, args: &LitestreamArgs) -> Result<Code> {
    let absolute = |p: &std::path::Path| {
        std::path::absolute(p).map_err(|e| usage(format!("cannot make {} absolute: {e}", p.display())))
    };
    let db = absolute(db)?;
    // JSON strings are YAML strings: any path or URL comes out quoted right.
    let quote = |s: &str| serde_json::Value::from(s).to_string();
    let replica = if args.replica.contains("://") {
        format!("url: {}", quote(&args.replica))
    } else {
        format!("type: file\n      path: {}", quote(&absolute(args.replica.as_ref())?.to_string_lossy()))
    };
    let interval_ms = (args.sync_interval * 1000.0).round() as u64;
    if interval_ms == 0 {
        return Err(usage("--sync-interval must be at least 1ms"));
    }
    print!(
        "\
# Litestream configuration for the orq database {db}:
#   litestream replicate -config THIS_FILE      (keep it running beside the workers)
#   litestream restore -config THIS_FILE {db}   (after a loss; -timestamp for a point in time)
dbs:
  - path: {path}
    replica:
      {replica}
      sync-interval: {interval_ms}ms
",
        db = db.display(),
        path = quote(&db.to_string_lossy()),
    );
    Ok(Code::Ok)
}
