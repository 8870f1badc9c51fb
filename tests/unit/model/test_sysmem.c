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
    int ready[2];
    char c = 0;
    assert_int_equal(pipe(ready), 0);
    pid_t pid = fork();
    if (pid == 0) {
        die_with_parent();
        for (int fd = 3; fd < 1024; fd++)
            if (fd != ready[1])
                close(fd);
        /* closed: now the test may look */
        if (write(ready[1], &c, 1) != 1)
            _exit(1);
        close(ready[1]);
        for (;;)
            pause();
    }
    assert_true(pid > 0);
    close(ready[1]);
    assert_int_equal(read(ready[0], &c, 1), 1);
    close(ready[0]);
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

/* A process tree outside this one: a child named top_name (NULL: as it
 * is) whose own child, named holder_name, listens on a loopback port. */
struct tree {
    pid_t top, holder;
    int port;
};

static struct tree spawn_tree(const char *top_name, const char *holder_name)
{
    struct tree t = {0};
    int ready[2];
    assert_int_equal(pipe(ready), 0);
    t.top = fork();
    assert_true(t.top >= 0);
    if (t.top == 0) {
        die_with_parent();
        if (top_name)
            prctl(PR_SET_NAME, top_name);
        pid_t holder = fork();
        if (holder == 0) {
            die_with_parent();
            if (holder_name)
                prctl(PR_SET_NAME, holder_name);
            struct tree got = {.holder = getpid()};
            int fd = listen_on(AF_INET, &got.port);
            if (fd < 0 || write(ready[1], &got, sizeof(got)) != (ssize_t)sizeof(got))
                _exit(1);
            for (;;)
                pause();
        }
        for (;;)
            pause();
    }
    struct tree got;
    assert_int_equal(read(ready[0], &got, sizeof(got)), (ssize_t)sizeof(got));
    close(ready[0]);
    close(ready[1]);
    t.holder = got.holder;
    t.port = got.port;
    return t;
}

static void end_tree(struct tree t)
{
    kill(t.holder, SIGKILL);
    reap(t.top);
}

/* The listener belongs to a child of the engine (an engine that forks its
 * server): that is the engine's tree too. From outside the tree it is
 * another process's, named. */
static void test_port_owner_descendant(void **state)
{
    int other = 0;
    char comm[32];
    struct tree t = spawn_tree(NULL, "fake-server");
    assert_int_equal(sysmem_port_owner(t.port, (int)t.top, &other, comm, sizeof(comm)),
                     SYSMEM_PORT_TREE);
    pid_t stranger = idle_child();
    assert_int_equal(sysmem_port_owner(t.port, (int)stranger, &other, comm, sizeof(comm)),
                     SYSMEM_PORT_OTHER);
    assert_int_equal(other, (int)t.holder);
    assert_string_equal(comm, "fake-server");
    reap(stranger);
    end_tree(t);
}

/* A container's listener is not judged: a runtime's port forwarder by its
 * name, or a process with a container shim among its ancestors (a
 * container on the host's network). */
static void test_port_owner_container(void **state)
{
    int other = 0;
    char comm[32];
    pid_t stranger = idle_child();
    struct tree t = spawn_tree(NULL, "docker-proxy");
    assert_int_equal(sysmem_port_owner(t.port, (int)stranger, &other, comm, sizeof(comm)),
                     SYSMEM_PORT_CONTAINER);
    assert_int_equal(other, (int)t.holder);
    end_tree(t);
    t = spawn_tree("containerd-shim-runc-v2", "vllm");
    assert_int_equal(sysmem_port_owner(t.port, (int)stranger, &other, comm, sizeof(comm)),
                     SYSMEM_PORT_CONTAINER);
    assert_string_equal(comm, "vllm");
    end_tree(t);
    reap(stranger);
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
        cmocka_unit_test(test_port_owner_container),
        cmocka_unit_test(test_port_owner_ipv6),
        cmocka_unit_test(test_tree_rss),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
