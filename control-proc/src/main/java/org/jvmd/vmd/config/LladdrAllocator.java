package org.jvmd.vmd.config;

import java.util.Collection;
import java.util.HashSet;
import java.util.Objects;
import java.util.Set;

/** Hands out generated interface addresses that no other interface uses. */
public final class LladdrAllocator {
    /** Far more attempts than a 16-bit random part ever needs; a generator stuck on one value fails. */
    private static final int MAX_ATTEMPTS = 1 << 20;

    private final LladdrGenerator generator;
    private final Set<MacAddress> used = new HashSet<>();

    /**
     * @param generator makes candidate addresses
     * @param inUse addresses already taken
     */
    public LladdrAllocator(LladdrGenerator generator, Collection<MacAddress> inUse) {
        this.generator = Objects.requireNonNull(generator, "generator");
        used.addAll(inUse);
    }

    /** Marks an address as taken; false if it already was. */
    public boolean claim(MacAddress address) {
        return used.add(address);
    }

    /** A fresh unicast address for the interface with this index, now taken. */
    public MacAddress allocate(int interfaceIndex) {
        for (int i = 0; i < MAX_ATTEMPTS; i++) {
            MacAddress a = generator.generate(interfaceIndex);
            if (!a.isZero() && !a.isMulticast() && used.add(a)) {
                return a;
            }
        }
        throw new IllegalStateException("no unused lladdr after " + MAX_ATTEMPTS + " attempts");
    }
}
