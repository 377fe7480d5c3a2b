package org.jvmd.vmd.config;

import java.util.Collections;
import java.util.EnumSet;
import java.util.Set;

/**
 * A VM's {@code allow instance} settings: who may create instances of it and which options
 * they may set. Root may always create instances and set anything.
 *
 * @param flags the options non-root users may set
 * @param owner who may create instances besides root
 */
public record InstancePolicy(Set<InstanceFlag> flags, Owner owner) {
    /** The default: only root creates instances. */
    public static final InstancePolicy NONE = new InstancePolicy(EnumSet.noneOf(InstanceFlag.class), Owner.ROOT);

    public InstancePolicy {
        EnumSet<InstanceFlag> copy = EnumSet.noneOf(InstanceFlag.class);
        copy.addAll(flags);
        flags = Collections.unmodifiableSet(copy);
    }

    public boolean allows(InstanceFlag flag) {
        return flags.contains(flag);
    }
}
