package org.jvmd.vmd.config;

/**
 * Where something was declared in the configuration: a file's display name and a line.
 *
 * @param file the file name as vmd reports it (the path it was opened with)
 * @param line 1-based line number
 */
public record Source(String file, int line) {
    @Override
    public String toString() {
        return file + ":" + line;
    }
}
