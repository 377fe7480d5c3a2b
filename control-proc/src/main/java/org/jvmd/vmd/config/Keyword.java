package org.jvmd.vmd.config;

import java.util.HashMap;
import java.util.Map;

/**
 * The reserved words of vm.conf (parse.y's keyword table). A bare word spelling one of these is
 * that keyword; quoted, it is an ordinary string. vmd's words are all here, including those
 * jvmd only recognises to say they are not supported on Linux, plus jvmd's direct-boot and
 * virtio-net words ({@code vcpus}, {@code initrd}, {@code cmdline}, {@code offload},
 * {@code mtu}).
 */
enum Keyword {
    AGENTX("agentx"),
    ALLOW("allow"),
    BOOT("boot"),
    CDROM("cdrom"),
    CMDLINE("cmdline"),
    DELAY("delay"),
    DEVICE("device"),
    DISABLE("disable"),
    DISK("disk"),
    DOWN("down"),
    ENABLE("enable"),
    FORMAT("format"),
    GROUP("group"),
    INCLUDE("include"),
    INET6("inet6"),
    INITRD("initrd"),
    INSTANCE("instance"),
    INTERFACE("interface"),
    INTERFACES("interfaces"),
    LLADDR("lladdr"),
    LOCAL("local"),
    LOCKED("locked"),
    MEMORY("memory"),
    MTU("mtu"),
    NET("net"),
    OFFLOAD("offload"),
    OWNER("owner"),
    PARALLEL("parallel"),
    PREFIX("prefix"),
    RDOMAIN("rdomain"),
    SEV("sev"),
    SEVES("seves"),
    SOCKET("socket"),
    STAGGERED("staggered"),
    START("start"),
    SWITCH("switch"),
    UP("up"),
    VCPUS("vcpus"),
    VM("vm");

    private static final Map<String, Keyword> BY_WORD = new HashMap<>();

    static {
        for (Keyword k : values()) {
            BY_WORD.put(k.word, k);
        }
    }

    final String word;

    Keyword(String word) {
        this.word = word;
    }

    /** The keyword a bare word spells, or null for an ordinary string. */
    static Keyword lookup(String bareWord) {
        return BY_WORD.get(bareWord);
    }
}
