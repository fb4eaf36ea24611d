/*
 * dns_gate.c - an LD_PRELOAD shim for tests: a name lookup (getaddrinfo)
 * of any name ending in ".gate.test" hangs until the file named by
 * SC_DNS_GATE_RELEASE exists, then fails; every other name is looked up as
 * usual.  It stands for a receiver whose DNS does not answer, so a test can
 * show that sendcapd's loop keeps running while a lookup hangs.  On
 * entering the hang it creates that name + ".entered", so the test can
 * tell the shim is in place (without it the lookup fails fast and the test
 * would prove nothing).  Test code only: never linked into sendcap(d).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* RTLD_NEXT */
#endif
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef int gai_fn(const char *, const char *, const struct addrinfo *, struct addrinfo **);

int
getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
            struct addrinfo **res)
{
    static const char suffix[] = ".gate.test";
    gai_fn *real = (gai_fn *)dlsym(RTLD_NEXT, "getaddrinfo");
    const char *release = getenv("SC_DNS_GATE_RELEASE");
    size_t n = node != NULL ? strlen(node) : 0;

    if (n >= sizeof(suffix) - 1 && strcmp(node + n - (sizeof(suffix) - 1), suffix) == 0) {
        char entered[4096];
        if (release != NULL &&
            snprintf(entered, sizeof(entered), "%s.entered", release) < (int)sizeof(entered)) {
            int fd = open(entered, O_WRONLY | O_CREAT, 0600);
            if (fd >= 0)
                close(fd);
        }
        while (release != NULL && access(release, F_OK) != 0)
            usleep(20000);
        return EAI_NONAME;
    }
    return real != NULL ? real(node, service, hints, res) : EAI_FAIL;
}
