package org.jvmd.vmd.config;

/**
 * The owner of a VM, of the control socket, or of the right to create instances (vmd's
 * {@code struct vmop_owner}): a user id and an optional group id.
 *
 * @param uid user id; 0 (root) when only a group was given
 * @param gid group id, or {@link #NO_GROUP}
 */
public record Owner(int uid, int gid) {
    /** No group: only the user (and root) qualify. */
    public static final int NO_GROUP = -1;
    /** Root alone: vmd's default owner. */
    public static final Owner ROOT = new Owner(0, NO_GROUP);

    public boolean hasGroup() {
        return gid != NO_GROUP;
    }
}
