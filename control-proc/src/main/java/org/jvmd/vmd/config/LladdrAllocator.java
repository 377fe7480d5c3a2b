package org.jvmd.vmd.config;

import java.util.Collection;
import java.util.HashSet;
import java.util.Objects;
import java.util.Set;

/** Hands out generated interface addresses that no other interface uses. */
public final class LladdrAllocator {
    /** Far more attempts than a 16-bit random part ever needs; a generator stuck on one value fails. */
    private static final int MAX_ATTEMPTS = 1 << 20;

    /**
     * No generated address is left for an interface index: vmd's scheme has 2^16 per index
     * (fe:e1:bb:dN:xx:xx), so a configuration or a start that needs more fails with this,
     * which the caller reports against the VM or interface that asked.
     */
    public static final class Exhausted extends RuntimeException {
        private static final long serialVersionUID = 1L;

        Exhausted(int interfaceIndex) {
            super("no unused lladdr left for interface " + interfaceIndex
                    + ": every generated address for it is taken (set one with lladdr)");
        }
    }

    private final LladdrGenerator generator;
    private final Set<MacAddress> used = new HashSet<>();
    /** Indices whose search already failed: every later VM asking for one fails at once. */
    private final Set<Integer> exhausted = new HashSet<>();

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

    /**
     * A fresh unicast address for the interface with this index, now taken.
     *
     * @throws Exhausted when none is left for that index
     */
    public MacAddress allocate(int interfaceIndex) {
        if (exhausted.contains(interfaceIndex)) {
            throw new Exhausted(interfaceIndex);
        }
        for (int i = 0; i < MAX_ATTEMPTS; i++) {
            MacAddress a = generator.generate(interfaceIndex);
            if (!a.isZero() && !a.isMulticast() && used.add(a)) {
                return a;
            }
        }
        exhausted.add(interfaceIndex);
        throw new Exhausted(interfaceIndex);
    }
}
