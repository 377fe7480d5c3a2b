package org.jvmd.vmd.config;

import java.security.SecureRandom;
import java.util.random.RandomGenerator;

/**
 * Makes the address of an interface configured without {@code lladdr}. vmd (vm_register in
 * vmd.c) derives it from the kernel's ether_fakeaddr() incremented by one:
 * {@code fe:e1:bb:dN:xx:xx}, where N is the interface index plus one (mod 16) and the last two
 * octets are random. The prefix is locally administered and unicast (IEEE 802 §8.2).
 */
@FunctionalInterface
public interface LladdrGenerator {
    /** An address for the interface with this index (0-based) in its VM. */
    MacAddress generate(int interfaceIndex);

    /** vmd's scheme over a random source; pass a seeded generator for reproducible tests. */
    static LladdrGenerator vmd(RandomGenerator random) {
        return index -> {
            int rng = random.nextInt();
            byte[] b = {
                (byte) 0xfe, (byte) 0xe1, (byte) (0xba + 1),
                (byte) (0xd0 | ((index + 1) & 0xf)), (byte) rng, (byte) (rng >>> 8),
            };
            return MacAddress.of(b);
        };
    }

    /** vmd's scheme over a SecureRandom, as the daemon uses it. */
    static LladdrGenerator secure() {
        return vmd(new SecureRandom());
    }
}
