/*
 * tapfwd: the floor jvmd's vionet is measured against (issue 5, scripts/bench-net).
 *
 * A minimal userspace tap-to-tap forwarder, written the plain way a first vionet would
 * be: one thread per direction, poll(2) on the source tap, then read(2) every frame that
 * is queued into one 256 KiB buffer and write(2) it to the other tap. No batching across
 * syscalls, no zero-copy tricks, no packet inspection.
 *
 *   tapfwd --ns1 NS --tap1 TAP --ns2 NS --tap2 TAP [--vnet-hdr] [--offload]
 *
 * Each tap must already exist (a persistent tap, `ip tuntap add mode tap`) in its network
 * namespace; NS is a name under /run/netns or a path to a netns file, and may be left out
 * for the namespace tapfwd runs in. tapfwd enters each namespace with setns(2) only to
 * open its tap, then returns to its own.
 *
 * Modes:
 *   (none)       IFF_TAP|IFF_NO_PI, TUNSETOFFLOAD 0: the kernel checksums and segments,
 *                so every frame is at most MTU-sized.
 *   --vnet-hdr   adds IFF_VNET_HDR with TUNSETVNETHDRSZ 12 (struct virtio_net_hdr with
 *                num_buffers, virtio 1.2 §5.1.6), offloads still 0.
 *   --offload    --vnet-hdr plus TUNSETOFFLOAD(TUN_F_CSUM|TUN_F_TSO4|TUN_F_TSO6) on both
 *                taps: TSO super-frames with NEEDS_CSUM pass through with their header.
 *                This is the fair floor: the best a simple C forwarder can do.
 *
 * TUNSETOFFLOAD is always issued, 0 included, because the flags live on the (persistent)
 * device and would otherwise survive from an earlier user.
 *
 * Once both taps are open tapfwd prints "ready" on stdout. It runs until SIGINT or
 * SIGTERM, then prints its counters on stderr and exits 0. A failing write (EIO while a
 * link is down, EINVAL for a header the kernel rejects, ...) is counted and the frame
 * dropped; a failing read is fatal (the tap is gone).
 *
 * Build: gcc -O2 -pthread -o tapfwd tapfwd.c (scripts/bench-net does it).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <net/if.h> /* before the linux/ headers: glibc and the kernel both define ifreq */
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* struct virtio_net_hdr_mrg_rxbuf: the 10-byte header plus num_buffers (virtio 1.2 §5.1.6). */
#define VNET_HDR_SIZE 12
/* A TSO frame from a tap is at most GSO_LEGACY_MAX_SIZE (64 KiB) plus the Ethernet header
 * and the vnet header; 256 KiB leaves room for a device with a larger gso_max_size. */
#define BUF_SIZE (256 * 1024)

struct direction {
    char name[64];
    int in;
    int out;
    int vnet_hdr;
    /* published by the forwarding thread with relaxed stores, read once at exit */
    _Atomic uint64_t frames, bytes, gso_frames, max_frame, drops, last_errno;
};

static void die(const char *what, const char *detail) {
    fprintf(stderr, "tapfwd: %s%s%s: %s\n", what, detail ? " " : "", detail ? detail : "",
            strerror(errno));
    exit(1);
}

static int open_netns(const char *ns) {
    char path[512];
    if (strchr(ns, '/'))
        snprintf(path, sizeof path, "%s", ns);
    else
        snprintf(path, sizeof path, "/run/netns/%s", ns);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        die("open netns", path);
    return fd;
}

/* Opens the existing tap `name` inside netns `ns` (NULL: the current one). */
static int open_tap(const char *ns, const char *name, int vnet_hdr, unsigned offload) {
    int self = -1;
    if (ns) {
        self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
        if (self < 0)
            die("open", "/proc/self/ns/net");
        int nsfd = open_netns(ns);
        if (setns(nsfd, CLONE_NEWNET) < 0)
            die("setns", ns);
        close(nsfd);
    }
    /* TUNSETIFF would quietly create a missing tap; refuse instead, the caller owns them. */
    if (if_nametoindex(name) == 0) {
        fprintf(stderr, "tapfwd: no interface %s in netns %s (create it with ip tuntap add mode tap)\n",
                name, ns ? ns : "(own)");
        exit(1);
    }
    int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        die("open", "/dev/net/tun");
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI | (vnet_hdr ? IFF_VNET_HDR : 0);
    if (ioctl(fd, TUNSETIFF, &ifr) < 0)
        die("ioctl(TUNSETIFF)", name);
    if (vnet_hdr) {
        int sz = VNET_HDR_SIZE;
        if (ioctl(fd, TUNSETVNETHDRSZ, &sz) < 0)
            die("ioctl(TUNSETVNETHDRSZ)", name);
    }
    if (ioctl(fd, TUNSETOFFLOAD, (unsigned long)offload) < 0)
        die("ioctl(TUNSETOFFLOAD)", name);
    if (self >= 0) {
        if (setns(self, CLONE_NEWNET) < 0)
            die("setns", "back to own netns");
        close(self);
    }
    return fd;
}

static void *forward(void *arg) {
    struct direction *d = arg;
    unsigned char *buf = malloc(BUF_SIZE);
    if (!buf)
        die("malloc", NULL);
    uint64_t frames = 0, bytes = 0, gso = 0, max = 0, drops = 0;
    size_t hdr = d->vnet_hdr ? VNET_HDR_SIZE : 0;
    for (;;) {
        struct pollfd p = {.fd = d->in, .events = POLLIN};
        if (poll(&p, 1, -1) < 0) {
            if (errno == EINTR)
                continue;
            die("poll", d->name);
        }
        for (;;) {
            ssize_t n = read(d->in, buf, BUF_SIZE);
            if (n < 0) {
                if (errno == EAGAIN)
                    break;
                if (errno == EINTR)
                    continue;
                die("read", d->name);
            }
            if (n == 0) {
                errno = EIO;
                die("read returned 0", d->name);
            }
            ssize_t w = write(d->out, buf, (size_t)n);
            if (w != n) {
                drops++;
                atomic_store_explicit(&d->last_errno, w < 0 ? (uint64_t)errno : 0,
                                      memory_order_relaxed);
                continue;
            }
            frames++;
            bytes += (uint64_t)n - hdr;
            if (hdr && ((struct virtio_net_hdr *)buf)->gso_type != VIRTIO_NET_HDR_GSO_NONE)
                gso++;
            if ((uint64_t)n - hdr > max)
                max = (uint64_t)n - hdr;
        }
        atomic_store_explicit(&d->frames, frames, memory_order_relaxed);
        atomic_store_explicit(&d->bytes, bytes, memory_order_relaxed);
        atomic_store_explicit(&d->gso_frames, gso, memory_order_relaxed);
        atomic_store_explicit(&d->max_frame, max, memory_order_relaxed);
        atomic_store_explicit(&d->drops, drops, memory_order_relaxed);
    }
    return NULL;
}

static void print_stats(const struct direction *d) {
    uint64_t e = atomic_load_explicit(&d->last_errno, memory_order_relaxed);
    fprintf(stderr,
            "tapfwd: %s frames=%llu bytes=%llu gso_frames=%llu max_frame=%llu drops=%llu%s%s\n",
            d->name,
            (unsigned long long)atomic_load_explicit(&d->frames, memory_order_relaxed),
            (unsigned long long)atomic_load_explicit(&d->bytes, memory_order_relaxed),
            (unsigned long long)atomic_load_explicit(&d->gso_frames, memory_order_relaxed),
            (unsigned long long)atomic_load_explicit(&d->max_frame, memory_order_relaxed),
            (unsigned long long)atomic_load_explicit(&d->drops, memory_order_relaxed),
            e ? " last_error=" : "", e ? strerror((int)e) : "");
}

static void usage(FILE *f) {
    fprintf(f, "usage: tapfwd [--ns1 NS] --tap1 TAP [--ns2 NS] --tap2 TAP [--vnet-hdr] [--offload]\n");
}

int main(int argc, char **argv) {
    const char *ns1 = NULL, *tap1 = NULL, *ns2 = NULL, *tap2 = NULL;
    int vnet_hdr = 0, offload = 0;
    static const struct option opts[] = {
        {"ns1", required_argument, NULL, 'a'},  {"tap1", required_argument, NULL, 'b'},
        {"ns2", required_argument, NULL, 'c'},  {"tap2", required_argument, NULL, 'd'},
        {"vnet-hdr", no_argument, NULL, 'v'},   {"offload", no_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},       {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'a': ns1 = optarg; break;
        case 'b': tap1 = optarg; break;
        case 'c': ns2 = optarg; break;
        case 'd': tap2 = optarg; break;
        case 'v': vnet_hdr = 1; break;
        case 'o': offload = vnet_hdr = 1; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!tap1 || !tap2 || optind != argc) {
        usage(stderr);
        return 2;
    }
    unsigned flags = offload ? (TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6) : 0;

    /* Block the stop signals before any thread exists; main collects them with sigwait. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);

    int fd1 = open_tap(ns1, tap1, vnet_hdr, flags);
    int fd2 = open_tap(ns2, tap2, vnet_hdr, flags);

    static struct direction dirs[2];
    snprintf(dirs[0].name, sizeof dirs[0].name, "%s->%s", tap1, tap2);
    dirs[0].in = fd1, dirs[0].out = fd2, dirs[0].vnet_hdr = vnet_hdr;
    snprintf(dirs[1].name, sizeof dirs[1].name, "%s->%s", tap2, tap1);
    dirs[1].in = fd2, dirs[1].out = fd1, dirs[1].vnet_hdr = vnet_hdr;
    for (int i = 0; i < 2; i++) {
        pthread_t t;
        int err = pthread_create(&t, NULL, forward, &dirs[i]);
        if (err) {
            errno = err;
            die("pthread_create", NULL);
        }
    }
    printf("ready\n");
    fflush(stdout);

    int sig;
    sigwait(&stop, &sig);
    print_stats(&dirs[0]);
    print_stats(&dirs[1]);
    return 0;
}
