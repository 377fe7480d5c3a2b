package org.jvmd.vmd.config;

import java.util.Objects;

/**
 * One configuration error, reported as vmd reports it: {@code file:line: message}. An error
 * that belongs to no line (a file that cannot be opened) has line 0 and prints as its message.
 *
 * @param file display name of the file
 * @param line 1-based line, or 0 for a whole-file error
 * @param message the message, without the location
 */
public record ConfigError(String file, int line, String message) {
    public ConfigError {
        Objects.requireNonNull(file, "file");
        Objects.requireNonNull(message, "message");
    }

    @Override
    public String toString() {
        return line > 0 ? file + ":" + line + ": " + message : message;
    }
}
