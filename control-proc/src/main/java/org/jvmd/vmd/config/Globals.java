package org.jvmd.vmd.config;

import java.util.Objects;
import java.util.Optional;

/**
 * vm.conf's global settings.
 *
 * @param localPrefix where local interfaces' subnets come from (default 100.64.0.0/10)
 * @param localInet6 {@code local inet6}: give local interfaces IPv6 gateway addresses too
 * @param localPrefix6 the IPv6 prefix; empty with localInet6 means vmd picks a random ULA
 *     prefix (fd00::/8) when it starts
 * @param socketOwner owner and group of the control socket (default root:root)
 * @param staggeredStart how the enabled VMs are started
 */
public record Globals(
        Ipv4Prefix localPrefix,
        boolean localInet6,
        Optional<Ipv6Prefix> localPrefix6,
        Owner socketOwner,
        StaggeredStart staggeredStart) {
    public Globals {
        Objects.requireNonNull(localPrefix, "localPrefix");
        Objects.requireNonNull(localPrefix6, "localPrefix6");
        Objects.requireNonNull(socketOwner, "socketOwner");
        Objects.requireNonNull(staggeredStart, "staggeredStart");
    }
}
