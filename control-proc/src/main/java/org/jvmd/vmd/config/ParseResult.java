package org.jvmd.vmd.config;

import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * What parsing vm.conf produced: the configuration if there were no errors, every error in
 * the order found, and warnings (unused macros).
 *
 * @param config the configuration, present exactly when errors is empty
 * @param errors the errors, each printing as {@code file:line: message}
 * @param warnings warnings, such as {@code macro 'x' not used}
 */
public record ParseResult(Optional<Config> config, List<ConfigError> errors, List<String> warnings) {
    public ParseResult {
        Objects.requireNonNull(config, "config");
        errors = List.copyOf(errors);
        warnings = List.copyOf(warnings);
        if (config.isPresent() != errors.isEmpty()) {
            throw new IllegalArgumentException("a configuration exactly when there are no errors");
        }
    }

    public boolean ok() {
        return errors.isEmpty();
    }

    /**
     * What {@code vmd -n} prints (to stderr): each warning as {@code warning: ...}, then either
     * {@code configuration OK} or the errors, one per line.
     */
    public String noActionOutput() {
        StringBuilder out = new StringBuilder();
        for (String w : warnings) {
            out.append("warning: ").append(w).append('\n');
        }
        if (ok()) {
            out.append("configuration OK\n");
        }
        for (ConfigError e : errors) {
            out.append(e).append('\n');
        }
        return out.toString();
    }

    /** {@code vmd -n}'s exit status: 0 when the configuration is OK, else 1. */
    public int exitCode() {
        return ok() ? 0 : 1;
    }
}
