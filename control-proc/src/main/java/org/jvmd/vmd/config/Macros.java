package org.jvmd.vmd.config;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The macro table (parse.y's symset/symget). Macros given on the command line ({@code -D
 * name=value}) persist: a definition of the same name in the file does not replace them.
 */
final class Macros {
    private static final class Sym {
        final String value;
        final boolean persist;
        boolean used;

        Sym(String value, boolean persist) {
            this.value = value;
            this.persist = persist;
        }
    }

    private final Map<String, Sym> table = new LinkedHashMap<>();

    /** Defines a macro; a persistent (command-line) definition is never replaced. */
    void define(String name, String value, boolean persist) {
        Sym old = table.get(name);
        if (old != null && old.persist) {
            return;
        }
        table.remove(name);
        table.put(name, new Sym(value, persist));
    }

    /** The value of a macro, marking it used, or null if it is not defined. */
    String get(String name) {
        Sym s = table.get(name);
        if (s == null) {
            return null;
        }
        s.used = true;
        return s.value;
    }

    /** Names of the macros never expanded, in definition order. */
    List<String> unused() {
        List<String> out = new ArrayList<>();
        table.forEach((name, sym) -> {
            if (!sym.used) {
                out.add(name);
            }
        });
        return out;
    }

    /**
     * Splits a command-line definition {@code name=value} at its last '=' as vmd's
     * cmdline_symset does.
     *
     * @throws IllegalArgumentException "could not parse macro definition ..." without '='
     */
    static Map.Entry<String, String> parseDefinition(String definition) {
        int eq = definition.lastIndexOf('=');
        if (eq < 0) {
            throw new IllegalArgumentException("could not parse macro definition " + definition);
        }
        return Map.entry(definition.substring(0, eq), definition.substring(eq + 1));
    }

    /** Whether a name can be referenced as {@code $name}: letters, digits and '_' only. */
    static boolean validName(String name) {
        if (name.isEmpty()) {
            return false;
        }
        for (int i = 0; i < name.length(); i++) {
            if (!Lexer.isAlnum(name.charAt(i)) && name.charAt(i) != '_') {
                return false;
            }
        }
        return true;
    }
}
