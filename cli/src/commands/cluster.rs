//! `orq cluster`: the nodes of a dqlite cluster of `orq-node`s, and
//! changes to its membership (docs/scale-out.md). Nodes join by themselves
//! (`orq-node --join`); these commands show them, remove one for good, or
//! hand the leadership to another.

use std::path::PathBuf;

use clap::Subcommand;
use orq_cluster::{Conn, Role};
use serde_json::json;

use super::copy;
use crate::exit::{usage, Code, Failure, Result};
use crate::output::{print_table, Output};
use crate::store::{reach_leader, Store};

#[derive(Subcommand)]
pub enum ClusterCommand {
    /// Every node: id, address, role, and which one leads
    Status,
    /// Remove a node from the cluster for good (stop its process first)
    Remove {
        /// The node's id
        id: u64,
    },
    /// Make another voter the leader (before taking the leader down for upkeep)
    Transfer {
        /// The new leader's id
        id: u64,
    },
    /// Copy a queue's database file into the cluster's database, which
    /// must be empty (stop the file's workers first)
    Import {
        /// The database file
        file: PathBuf,
    },
    /// Copy the cluster's database into a new database file (stop the
    /// cluster's workers first)
    Export {
        /// The file to write; it must not exist
        file: PathBuf,
    },
}

pub fn cluster(store: &Store, command: ClusterCommand, out: &Output) -> Result<Code> {
    let Store::Cluster(cluster) = store else {
        return Err(usage("orq cluster needs --cluster ADDRESSES (or $ORQ_CLUSTER)"));
    };
    let mut cluster = cluster.borrow_mut();
    match command {
        ClusterCommand::Status => status(cluster.admin().map_err(failure)?, out)?,
        ClusterCommand::Remove { id } => {
            cluster.admin().map_err(failure)?.remove(id).map_err(failure)?;
            println!("node {id} removed");
        }
        ClusterCommand::Transfer { id } => {
            cluster.admin().map_err(failure)?.transfer(id).map_err(failure)?;
            println!("node {id} leads");
        }
        ClusterCommand::Import { file } => {
            reach_leader(&mut cluster)?;
            let moved = copy::import(&mut cluster, &file)?;
            print_moved(&moved, &format!("imported {} into the cluster", file.display()), out);
        }
        ClusterCommand::Export { file } => {
            reach_leader(&mut cluster)?;
            let moved = copy::export(&mut cluster, &file)?;
            print_moved(&moved, &format!("exported the cluster into {}", file.display()), out);
        }
    }
    Ok(Code::Ok)
}

fn status(admin: &mut Conn, out: &Output) -> Result<()> {
    let leader = admin.leader().map_err(failure)?.map(|(id, _)| id);
    let nodes = admin.cluster().map_err(failure)?;
    if out.json {
        let list: Vec<_> = nodes
            .iter()
            .map(|n| json!({"id": n.id, "address": n.address, "role": role(n.role), "leader": Some(n.id) == leader}))
            .collect();
        println!("{}", serde_json::Value::Array(list));
    } else {
        let headers = ["id", "address", "role", "leader"].map(String::from);
        let rows: Vec<Vec<String>> = nodes
            .iter()
            .map(|n| {
                let mark = if Some(n.id) == leader { "*" } else { "" };
                vec![n.id.to_string(), n.address.clone(), role(n.role).into(), mark.into()]
            })
            .collect();
        print_table(&headers, &rows);
    }
    Ok(())
}

fn print_moved(moved: &copy::Moved, what: &str, out: &Output) {
    if out.json {
        println!("{}", json!({"tables": moved.tables, "rows": moved.rows, "jobs": moved.jobs}));
    } else {
        println!("{what}: {} jobs ({} rows in {} tables)", moved.jobs, moved.rows, moved.tables);
    }
}

fn role(r: Role) -> &'static str {
    match r {
        Role::Voter => "voter",
        Role::StandBy => "standby",
        Role::Spare => "spare",
    }
}

fn failure(e: orq_cluster::Error) -> Failure {
    Failure { code: Code::Database, message: format!("cluster: {e}") }
}
