/*
 * Unit tests for sysmem's /proc readers: which process listens on a port
 * (the check that a managed engine's port is held by the engine), and the
 * RSS of a process tree.
 *
 * Real sockets and real processes: this process listens, a forked child
 * is the "engine" whose tree does or does not hold the listener.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "model/sysmem.h"

/* A listening TCP socket on a loopback address; its port in *port. */
static int listen_on(int family, int *port)
{
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_storage ss = {0};
    socklen_t sl;
    if (family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        sl = sizeof(*a);
    } else {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_addr = in6addr_loopback;
        sl = sizeof(*a);
    }
    if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 4) < 0 ||
        getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) {
        close(fd);
        return -1;
    }
    *port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                    : ((struct sockaddr_in6 *)&ss)->sin6_port);
    return fd;
}

/* In a child: dies with the test, whatever the test's assertions do. */
static void die_with_parent(void)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
}

/* A child that only waits to be killed: an engine that holds nothing (it
 * closes what fork() gave it, the test's listener among them). */
static pid_t idle_child(void)
{
    pid_t pid = fork();
    if (pid == 0) {
        die_with_parent();
        for (int fd = 3; fd < 1024; fd++)
            close(fd);
        for (;;)
            pause();
    }
    assert_true(pid > 0);
    return pid;
}

static void reap(pid_t pid)
{
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

static void test_port_owner_tree_other_none(void **state)
{
    int port, other = 0;
    char comm[32], self[32] = "";
    FILE *f = fopen("/proc/self/comm", "r");
    assert_non_null(f);
    assert_non_null(fgets(self, sizeof(self), f));
    fclose(f);
    self[strcspn(self, "\n")] = '\0';

    int fd = listen_on(AF_INET, &port);
    assert_true(fd >= 0);
    /* This process holds it: its own tree. */
    assert_int_equal(sysmem_port_owner(port, (int)getpid(), &other, comm, sizeof(comm)),
                     SYSMEM_PORT_TREE);
    /* A child that holds nothing: the port is another process's, named. */
    pid_t child = idle_child();
    assert_int_equal(sysmem_port_owner(port, (int)child, &other, comm, sizeof(comm)),
                     SYSMEM_PORT_OTHER);
    assert_int_equal(other, (int)getpid());
    assert_string_equal(comm, self);
    reap(child);
    /* Closed: nobody listens. */
    close(fd);
    assert_int_equal(sysmem_port_owner(port, (int)getpid(), &other, comm, sizeof(comm)),
                     SYSMEM_PORT_NONE);
}

/* The listener belongs to a child of the engine (an engine that forks its
 * server, as vLLM does): that is the engine's tree too. */
static void test_port_owner_descendant(void **state)
{
    int port, other = 0, ready[2];
    char comm[32];
    assert_int_equal(pipe(ready), 0);
    pid_t engine = fork();
    assert_true(engine >= 0);
    if (engine == 0) {
        die_with_parent();
        pid_t server = fork();
        if (server == 0) {
            die_with_parent();
            int p, fd = listen_on(AF_INET, &p);
            if (write(ready[1], &p, sizeof(p)) != (ssize_t)sizeof(p) || fd < 0)
                _exit(1);
            for (;;)
                pause();
        }
        for (;;)
            pause();
    }
    assert_int_equal(read(ready[0], &port, sizeof(port)), (ssize_t)sizeof(port));
    assert_int_equal(sysmem_port_owner(port, (int)engine, &other, comm, sizeof(comm)),
                     SYSMEM_PORT_TREE);
    /* From outside that tree (this process's child that holds nothing):
     * another process's. */
    pid_t stranger = idle_child();
    assert_int_equal(sysmem_port_owner(port, (int)stranger, &other, comm, sizeof(comm)),
                     SYSMEM_PORT_OTHER);
    assert_true(other != (int)engine && other != (int)getpid());
    reap(stranger);
    /* The engine's group: the server first, then the engine. */
    kill(other, SIGKILL);
    reap(engine);
    close(ready[0]);
    close(ready[1]);
}

static void test_port_owner_ipv6(void **state)
{
    int port, other = 0;
    char comm[32];
    int fd = listen_on(AF_INET6, &port);
    if (fd < 0)
        skip(); /* no IPv6 loopback here */
    assert_int_equal(sysmem_port_owner(port, (int)getpid(), &other, comm, sizeof(comm)),
                     SYSMEM_PORT_TREE);
    close(fd);
}

static void test_tree_rss(void **state)
{
    pid_t child = idle_child();
    uint64_t self = sysmem_tree_rss((int)getpid());
    assert_true(self > 0);
    assert_true(sysmem_tree_rss((int)child) > 0);
    /* the tree includes the child */
    assert_true(sysmem_tree_rss((int)getpid()) > sysmem_tree_rss((int)child));
    reap(child);
    assert_int_equal(sysmem_tree_rss(-1), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_port_owner_tree_other_none),
        cmocka_unit_test(test_port_owner_descendant),
        cmocka_unit_test(test_port_owner_ipv6),
        cmocka_unit_test(test_tree_rss),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
