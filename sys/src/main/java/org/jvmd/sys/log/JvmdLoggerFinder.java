package org.jvmd.sys.log;

import java.lang.System.Logger.Level;
import java.util.ResourceBundle;

/**
 * The backend of {@link System#getLogger} in every jvmd process, registered in
 * {@code META-INF/services/java.lang.System$LoggerFinder}: every logger, whatever its name
 * or module (the JDK's own included), writes through {@link Logs} in the one format
 * ({@link LogLine}). Resource bundles are not used: messages are jvmd's own English.
 * The JDK's own loggers (a named module's: jvmd runs from the class path) write info and
 * above only: their debug lines (java.lang.Runtime logs every System.exit with a stack
 * trace) are not jvmd's state changes.
 */
public final class JvmdLoggerFinder extends System.LoggerFinder {
    public JvmdLoggerFinder() {
    }

    @Override
    public System.Logger getLogger(String name, Module module) {
        return new JvmdLogger(name, module != null && module.isNamed());
    }

    private record JvmdLogger(String name, boolean jdk) implements System.Logger {
        @Override
        public String getName() {
            return name;
        }

        @Override
        public boolean isLoggable(Level level) {
            return Logs.loggable(level) && !(jdk && level == Level.DEBUG);
        }

        @Override
        public void log(Level level, ResourceBundle bundle, String msg, Throwable thrown) {
            if (isLoggable(level)) {
                Logs.write(level, String.valueOf(msg), thrown);
            }
        }

        @Override
        public void log(Level level, ResourceBundle bundle, String format, Object... params) {
            if (isLoggable(level)) {
                Logs.write(level, LogLine.substitute(format, params), null);
            }
        }
    }
}
