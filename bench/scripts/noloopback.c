/*
 * LD_PRELOAD shim for benchmarking Janus on one machine: clears IFF_LOOPBACK in the results
 * of getifaddrs(3), so that libnice gathers a host candidate on 127.0.0.1 (it skips loopback
 * interfaces otherwise) and all media stays on loopback. Used with
 * ice_enforce_list = "127.0.0.1" in janus.jcfg. Built by janus.sh with cc.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <stddef.h>

int getifaddrs(struct ifaddrs **ifap) {
    static int (*real)(struct ifaddrs **) = NULL;
    if (real == NULL) {
        real = (int (*)(struct ifaddrs **))dlsym(RTLD_NEXT, "getifaddrs");
        if (real == NULL)
            return -1;
    }
    int rc = real(ifap);
    if (rc == 0) {
        for (struct ifaddrs *i = *ifap; i != NULL; i = i->ifa_next)
            i->ifa_flags &= ~(unsigned int)IFF_LOOPBACK;
    }
    return rc;
}
