package org.jvmd.vmd.config;

import java.util.OptionalInt;

/** User and group lookups the configuration needs (getpwnam, getgrnam and group membership). */
public interface Accounts {
    /** The uid of a user name. */
    OptionalInt uid(String user);

    /** The gid of a group name. */
    OptionalInt gid(String group);

    /** Whether the user is in the group, as its primary group or as a listed member. */
    boolean isMember(int uid, int gid);

    /** No users or groups at all; enough where only root acts. */
    Accounts NONE = new Accounts() {
        @Override
        public OptionalInt uid(String user) {
            return OptionalInt.empty();
        }

        @Override
        public OptionalInt gid(String group) {
            return OptionalInt.empty();
        }

        @Override
        public boolean isMember(int uid, int gid) {
            return false;
        }
    };
}
