package org.jvmd.vmd.config;

import java.util.Optional;

/** The name rules of vm.conf: VM names as vmd's vm_register checks them, Linux interface names. */
public final class Names {
    /** vmd's VMM_MAX_NAME_LEN: a VM name and its NUL fit in 64 bytes. */
    public static final int VM_NAME_MAX = 64;
    /** Linux IFNAMSIZ (include/uapi/linux/if.h): an interface name and its NUL fit in 16. */
    public static final int IFNAMSIZ = 16;

    private Names() {
    }

    /**
     * Why a VM name is refused, or empty if it is valid: it must fit VM_NAME_MAX, consist of
     * letters, digits, '.', '-' and '_', and not start with '.', '-' or '_'.
     */
    public static Optional<String> vmNameError(String name) {
        if (name.length() >= VM_NAME_MAX) {
            return Optional.of("vm name too long");
        }
        if (name.isEmpty() || "-._".indexOf(name.charAt(0)) >= 0) {
            return Optional.of("invalid VM name: " + name);
        }
        for (int i = 0; i < name.length(); i++) {
            char c = name.charAt(i);
            if (!Lexer.isAlnum(c) && c != '.' && c != '-' && c != '_') {
                return Optional.of("invalid VM name: " + name);
            }
        }
        return Optional.empty();
    }

    /**
     * Whether Linux accepts this as a network interface name (net/core/dev.c dev_valid_name):
     * 1 to IFNAMSIZ - 1 bytes, not "." or "..", no '/', ':' or whitespace.
     */
    public static boolean validInterfaceName(String name) {
        if (name.isEmpty() || !fitsInterfaceName(name) || name.equals(".") || name.equals("..")) {
            return false;
        }
        for (int i = 0; i < name.length(); i++) {
            char c = name.charAt(i);
            if (c == '/' || c == ':' || c == ' ' || (c >= '\t' && c <= '\r') || c < ' ' || c > '~') {
                return false;
            }
        }
        return true;
    }

    /** Whether the name fits IFNAMSIZ with its NUL. */
    public static boolean fitsInterfaceName(String name) {
        return name.length() < IFNAMSIZ;
    }

    /**
     * vmd's priv_validgroup: an interface group name is shorter than IFNAMSIZ and does not end
     * with a digit (ifconfig(8)); jvmd also refuses the empty name.
     */
    public static boolean validGroup(String name) {
        return !name.isEmpty() && name.length() < IFNAMSIZ && !Lexer.isDigit(name.charAt(name.length() - 1));
    }

    /** A switch name fits vmd's VM_NAME_MAX like a VM name; any characters are allowed. */
    public static boolean validSwitchName(String name) {
        return !name.isEmpty() && name.length() < VM_NAME_MAX;
    }
}
