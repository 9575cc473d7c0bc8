//! `orq`: the command-line tool of the orq job queue. It opens the database
//! with orq's functions registered and calls them; the queue logic itself
//! lives in the SQL functions, exactly as every other front door sees it.

mod commands;
mod db;
mod duration;
mod exit;
mod output;
mod serve;
mod store;
mod time;
mod worker;

use std::path::PathBuf;

use clap::Parser;

use crate::exit::Failure;

const AFTER_HELP: &str = "\
Exit status:
  0  done
  1  nothing changed (e.g. cancelling a job that already finished)
  2  bad usage or input (unknown job id, invalid JSON, unknown option)
  3  database problem (cannot open, locked, full, read-only, corrupt, I/O error)
  4  orq run: some items ended dead
  5  in a job's command (orq step, sleep, await, spawn, gather, progress): the
     job left its worker or lost its lease; end the command
orq health: 0 ok, 1 warning, 2 critical (a database that cannot be opened too)

The database is ./orq.db unless --db or $ORQ_DB names another. With
--cluster (or $ORQ_CLUSTER), commands run on a dqlite cluster of `orq-node`s
instead, in the database of that name inside it (docs/scale-out.md).";

#[derive(Parser)]
#[command(name = "orq", version, about = "A durable job queue inside SQLite", after_help = AFTER_HELP)]
struct Cli {
    /// Database file (created when missing)
    #[arg(long, global = true, env = "ORQ_DB", default_value = "orq.db")]
    db: PathBuf,
    /// Print JSON instead of tables, for scripts
    #[arg(long, global = true)]
    json: bool,
    /// Make every commit wait for the disk (synchronous=FULL): no commit is
    /// lost even to a power cut. Default: NORMAL, safe against crashes of
    /// orq or of the machine's processes, several times faster
    /// ($ORQ_DURABLE: 1, true, yes or on)
    #[arg(long, global = true, env = "ORQ_DURABLE", value_parser = clap::builder::BoolishValueParser::new())]
    durable: bool,
    /// Run on a dqlite cluster of orq nodes instead of a file: some of its
    /// nodes' addresses, comma-separated (host:port,host:port); any node
    /// will do, orq finds the leader and follows it across elections
    #[arg(long, global = true, env = "ORQ_CLUSTER", value_name = "ADDRESSES")]
    cluster: Option<String>,
    #[command(subcommand)]
    command: commands::Command,
}

fn main() {
    #[cfg(target_os = "linux")]
    if std::env::args_os().nth(1).is_some_and(|a| a == worker::keeper::ARG) {
        worker::keeper::main(std::env::args_os().skip(2).collect());
    }
    let cli = Cli::parse();
    if !cli.command.runs_jobs() {
        // Like other Unix tools, end quietly when the reader of our output
        // goes away (`orq jobs | head`). Commands that run jobs keep SIGPIPE
        // ignored: a job that exits without reading its stdin must not kill
        // its worker.
        // SAFETY: setting a signal disposition at start, before any thread.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    let out = output::Output { json: cli.json };
    let source = match cli.cluster {
        Some(addresses) => store::Source::Cluster { addresses, name: cli.db.to_string_lossy().into_owned() },
        None => store::Source::File { path: cli.db, durable: cli.durable },
    };
    if let commands::Command::Health(args) = &cli.command {
        // Health reports every failure as a check (exit 2), never exit 3.
        std::process::exit(commands::health::check(&source, args, &out).status());
    }
    let opened = source.open();
    let code = match opened.and_then(|store| commands::run(&store, &source, cli.command, &out)) {
        Ok(code) => code,
        Err(Failure { code, message }) => {
            eprintln!("orq: {message}");
            code
        }
    };
    std::process::exit(code.status());
}
