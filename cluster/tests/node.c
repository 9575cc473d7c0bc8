/* A bare dqlite node for the multi-node tests of tests/wire.rs (no orq
 * functions needed there).
 *   node ID ADDRESS DATA_DIR     prints "ready" once it listens
 * Node 1 with an empty DATA_DIR bootstraps a one-node cluster; any other id
 * starts as a non-member, waiting to be added (ADD + ASSIGN sent to the
 * leader). The network latency of 20 ms makes raft's election timeout 300 ms
 * (the default is 3 s), so failover tests finish in well under a second or two.
 * SIGPIPE must be ignored: libdqlite 1.11 (through libuv) writes to peers and
 * clients with plain write(2), so a peer or client that vanishes kills the
 * process with SIGPIPE otherwise (killing one node of three took down the
 * other two). */
#include <dqlite.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 4) { fprintf(stderr, "usage: node ID ADDRESS DATA_DIR\n"); return 2; }
    signal(SIGPIPE, SIG_IGN);
    dqlite_node *node;
    dqlite_node_id id = strtoull(argv[1], NULL, 10);
    if (dqlite_node_create(id, argv[2], argv[3], &node)) { fprintf(stderr, "create failed\n"); return 1; }
    if (dqlite_node_set_bind_address(node, argv[2])) { fprintf(stderr, "bind failed: %s\n", dqlite_node_errmsg(node)); return 1; }
    if (dqlite_node_set_network_latency_ms(node, 20)) { fprintf(stderr, "latency failed\n"); return 1; }
    if (dqlite_node_start(node)) { fprintf(stderr, "start failed: %s\n", dqlite_node_errmsg(node)); return 1; }
    printf("ready\n"); fflush(stdout);
    pause();
    return 0;
}
