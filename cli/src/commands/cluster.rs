//! `orq cluster`: the nodes of a dqlite cluster of `orq-node`s, and
//! changes to its membership (docs/scale-out.md). Nodes join by themselves
//! (`orq-node --join`); these commands show them, remove one for good, or
//! hand the leadership to another.

use clap::Subcommand;
use orq_cluster::Role;
use serde_json::json;

use crate::exit::{usage, Code, Failure, Result};
use crate::output::{print_table, Output};
use crate::store::Store;

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
}

pub fn cluster(store: &Store, command: ClusterCommand, out: &Output) -> Result<Code> {
    let Store::Cluster(cluster) = store else {
        return Err(usage("orq cluster needs --cluster ADDRESSES (or $ORQ_CLUSTER)"));
    };
    let mut cluster = cluster.borrow_mut();
    let admin = cluster.admin().map_err(failure)?;
    match command {
        ClusterCommand::Status => {
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
        }
        ClusterCommand::Remove { id } => {
            admin.remove(id).map_err(failure)?;
            println!("node {id} removed");
        }
        ClusterCommand::Transfer { id } => {
            admin.transfer(id).map_err(failure)?;
            println!("node {id} leads");
        }
    }
    Ok(Code::Ok)
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
