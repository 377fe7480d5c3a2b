package org.jvmd.vmd.config;

import java.util.Objects;

/**
 * Who asks vmd for something: the peer's uid (SO_PEERCRED) and how to look up its groups.
 *
 * @param uid the caller's user id
 * @param accounts group membership lookups
 */
public record Caller(int uid, Accounts accounts) {
    public Caller {
        Objects.requireNonNull(accounts, "accounts");
    }

    /** Root, as vm.conf itself is. */
    public static Caller root() {
        return new Caller(0, Accounts.NONE);
    }

    public boolean isRoot() {
        return uid == 0;
    }

    /**
     * vmd's vm_checkperm: root may do anything; otherwise the caller must be the owner's user,
     * or a member of the owner's group.
     */
    public boolean permits(Owner owner) {
        return isRoot() || owner.uid() == uid || (owner.hasGroup() && accounts.isMember(uid, owner.gid()));
    }

    /** vmd's vm_checkinsflag: root may set anything on an instance, others what is allowed. */
    public boolean may(InstancePolicy policy, InstanceFlag flag) {
        return isRoot() || policy.allows(flag);
    }
}
