/* A dqlite node with orq registered in every connection it opens: the host
 * tests/cluster/test_dqlite.py builds and runs (issue 18). Registering orq
 * with sqlite3_auto_extension is how a program of its own embeds it; the
 * node's connections use dqlite's VFS, which orq recognizes and leaves the
 * journal mode to (schema.rs).
 *   dqlite_host LIBORQ ADDRESS DATA_DIR      prints "ready" once it listens */
#include <dlfcn.h>
#include <dqlite.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 4) { fprintf(stderr, "usage: host LIBORQ ADDRESS DATA_DIR\n"); return 2; }
    signal(SIGPIPE, SIG_IGN); /* a client that leaves mid-answer must not end the node */
    void *lib = dlopen(argv[1], RTLD_NOW);
    if (!lib) { fprintf(stderr, "dlopen: %s\n", dlerror()); return 1; }
    void *init = dlsym(lib, "sqlite3_orq_init");
    if (!init) { fprintf(stderr, "no sqlite3_orq_init\n"); return 1; }
    sqlite3_auto_extension((void (*)(void))init);
    dqlite_node *node;
    if (dqlite_node_create(1, argv[2], argv[3], &node)) { fprintf(stderr, "create failed\n"); return 1; }
    if (dqlite_node_set_bind_address(node, argv[2])) { fprintf(stderr, "bind failed: %s\n", dqlite_node_errmsg(node)); return 1; }
    if (dqlite_node_start(node)) { fprintf(stderr, "start failed: %s\n", dqlite_node_errmsg(node)); return 1; }
    printf("ready\n"); fflush(stdout);
    pause();
    return 0;
}
