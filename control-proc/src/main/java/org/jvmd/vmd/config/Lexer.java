package org.jvmd.vmd.config;

import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.Deque;

/**
 * vm.conf's lexer (parse.y's yylex, lgetc and findeol): comments, backslash line continuation,
 * quoted strings, bare words, numbers and {@code $macro} expansion by pushing the macro's
 * value back into the input, so a macro may expand to several tokens. A macro's value is not
 * itself expanded again, which rules out recursion. Include files form a stack; each file
 * ends with a NEWLINE then an EOF token, and the parser decides when to pop it.
 *
 * <p>Differences from parse.y, both lenient: ';' ends a statement like a newline (so it
 * cannot appear in a bare word), and a carriage return counts as a blank.
 */
final class Lexer {
    static final int EOF = -1;
    private static final int START_EXPAND = -2;
    private static final int DONE_EXPAND = -3;
    /** parse.y's token buffer is 8096 bytes; a token must leave room for its terminator. */
    static final int MAX_TOKEN = 8094;

    /** Where the lexer reports errors. */
    interface Errors {
        void error(String file, int line, long seq, String message);
    }

    /** One open file: its text, read position, line and pushback stack. */
    static final class Input {
        final String name;
        final Path path;
        final String text;
        int pos;
        int line = 1;
        boolean eofReached;
        int[] unget = new int[16];
        int ungetPos;

        /**
         * @param name the display name used in error messages
         * @param path the real path, for include-loop detection and relative paths; may be null
         * @param text the file's contents
         */
        Input(String name, Path path, String text) {
            this.name = name;
            this.path = path;
            this.text = text;
        }
    }

    private final Deque<Input> files = new ArrayDeque<>();
    private final Macros macros;
    private final Errors errors;
    private boolean expanding;
    private long seq;

    Lexer(Input top, Macros macros, Errors errors) {
        this.macros = macros;
        this.errors = errors;
        files.push(top);
    }

    /** Starts reading an included file; its first token comes next. */
    void push(Input included) {
        files.push(included);
    }

    /** Ends the current file and resumes the one that included it; false for the top file. */
    boolean pop() {
        if (files.size() <= 1) {
            return false;
        }
        files.pop();
        return true;
    }

    Input current() {
        return files.peek();
    }

    /** The open files, innermost first. */
    Iterable<Input> stack() {
        return files;
    }

    Token next() {
        seq++;
        StringBuilder buf = new StringBuilder();
        while (true) {
            buf.setLength(0);
            Input f = current();
            int c;
            do {
                c = lgetc(0);
            } while (c == ' ' || c == '\t' || c == '\r');
            int line = f.line;
            if (c == '#') {
                do {
                    c = lgetc(0);
                } while (c != '\n' && c != EOF);
            }
            if (c == '$' && !expanding) {
                Token failed = expandMacro(buf, line);
                if (failed != null) {
                    return failed;
                }
                continue;
            }
            if (c == '\'' || c == '"') {
                return quoted(c, line, buf);
            }
            if (c == '-' || isDigit(c)) {
                Token number = number(c, line, buf);
                if (number != null) {
                    return number;
                }
                c = buf.charAt(0);
                buf.setLength(0);
                if (c == '-') {
                    return punct('-', line);
                }
            }
            if (isAlnum(c) || c == ':' || c == '_' || c == '/') {
                return word(c, line, buf);
            }
            if (c == '\n' || c == ';') {
                if (c == '\n') {
                    f.line++;
                }
                return token(Token.Kind.NEWLINE, c == '\n' ? "\n" : ";", line);
            }
            if (c == EOF) {
                return token(Token.Kind.EOF, "", line);
            }
            return punct(c, line);
        }
    }

    /** Reads {@code $name} and pushes the value back; returns an ERROR token on failure. */
    private Token expandMacro(StringBuilder buf, int line) {
        while (true) {
            int c = lgetc(0);
            if (c != EOF && (isAlnum(c) || c == '_')) {
                if (buf.length() >= MAX_TOKEN) {
                    return fail(line, "string too long");
                }
                buf.append((char) c);
                continue;
            }
            lungetc(c);
            break;
        }
        String value = macros.get(buf.toString());
        if (value == null) {
            return fail(line, "macro '" + buf + "' not defined");
        }
        lungetc(DONE_EXPAND);
        for (int i = value.length() - 1; i >= 0; i--) {
            lungetc(value.charAt(i));
        }
        lungetc(START_EXPAND);
        return null;
    }

    private Token quoted(int quote, int line, StringBuilder buf) {
        Input f = current();
        while (true) {
            int c = lgetc(quote);
            if (c == EOF) {
                error(line, "reached end of file while parsing quoted string");
                return token(Token.Kind.ERROR, "", line);
            }
            if (c == '\n') {
                f.line++;
                continue;
            } else if (c == '\\') {
                int next = lgetc(quote);
                if (next == EOF) {
                    error(line, "reached end of file while parsing quoted string");
                    return token(Token.Kind.ERROR, "", line);
                }
                if (next == quote || next == ' ' || next == '\t') {
                    c = next;
                } else if (next == '\n') {
                    f.line++;
                    continue;
                } else {
                    lungetc(next);
                }
            } else if (c == quote) {
                return token(Token.Kind.STRING, buf.toString(), line);
            } else if (c == 0) {
                return fail(line, "syntax error");
            }
            if (buf.length() >= MAX_TOKEN) {
                return fail(line, "string too long");
            }
            buf.append((char) c);
        }
    }

    /**
     * Reads a number; returns null (with the characters pushed back except the first, left in
     * buf) when the digits run into something that makes them part of a word.
     */
    private Token number(int first, int line, StringBuilder buf) {
        int c = first;
        do {
            buf.append((char) c);
            if (buf.length() >= MAX_TOKEN) {
                return fail(line, "string too long");
            }
            c = lgetc(0);
        } while (c != EOF && isDigit(c));
        lungetc(c);
        boolean minusOnly = buf.length() == 1 && buf.charAt(0) == '-';
        if (!minusOnly && (c == EOF || endsNumber(c))) {
            try {
                long value = Long.parseLong(buf.toString());
                return new Token(Token.Kind.NUMBER, buf.toString(), value, null, current().name, line, seq);
            } catch (NumberFormatException e) {
                String why = buf.charAt(0) == '-' ? "too small" : "too large";
                return fail(line, "\"" + buf + "\" invalid number: " + why);
            }
        }
        for (int i = buf.length() - 1; i >= 1; i--) {
            lungetc(buf.charAt(i));
        }
        return null;
    }

    private Token word(int first, int line, StringBuilder buf) {
        int c = first;
        do {
            buf.append((char) c);
            if (buf.length() >= MAX_TOKEN) {
                return fail(line, "string too long");
            }
            c = lgetc(0);
        } while (c != EOF && inWord(c));
        lungetc(c);
        String w = buf.toString();
        Keyword k = Keyword.lookup(w);
        if (k != null) {
            return new Token(Token.Kind.KEYWORD, w, 0, k, current().name, line, seq);
        }
        return token(Token.Kind.STRING, w, line);
    }

    private Token punct(int c, int line) {
        Token.Kind kind = switch (c) {
            case '{' -> Token.Kind.LBRACE;
            case '}' -> Token.Kind.RBRACE;
            case '=' -> Token.Kind.EQUALS;
            case ',' -> Token.Kind.COMMA;
            default -> Token.Kind.PUNCT;
        };
        return token(kind, String.valueOf((char) c), line);
    }

    private Token token(Token.Kind kind, String text, int line) {
        return new Token(kind, text, 0, null, current().name, line, seq);
    }

    /** Reports an error and skips the rest of the line (parse.y's findeol). */
    private Token fail(int line, String message) {
        error(line, message);
        Input f = current();
        while (true) {
            int c = lgetc(0);
            if (c == '\n') {
                f.line++;
                break;
            }
            if (c == EOF) {
                break;
            }
        }
        return token(Token.Kind.ERROR, "", line);
    }

    private void error(int line, String message) {
        errors.error(current().name, line, seq, message);
    }

    /** The next character with expansion markers consumed. */
    private int igetc() {
        Input f = current();
        while (true) {
            int c;
            if (f.ungetPos > 0) {
                c = f.unget[--f.ungetPos];
            } else if (f.pos < f.text.length()) {
                c = f.text.charAt(f.pos++);
            } else {
                c = EOF;
            }
            if (c == START_EXPAND) {
                expanding = true;
            } else if (c == DONE_EXPAND) {
                expanding = false;
            } else {
                return c;
            }
        }
    }

    /**
     * The next character; outside quotes a backslash-newline joins lines, a backslash before
     * anything else yields that character, and the end of the file reads once as a newline
     * (so the last line ends even without one).
     */
    private int lgetc(int quote) {
        if (quote != 0) {
            return igetc();
        }
        Input f = current();
        int c;
        while ((c = igetc()) == '\\') {
            int next = igetc();
            if (next != '\n') {
                c = next;
                break;
            }
            f.line++;
        }
        if (c == EOF && !f.eofReached) {
            f.eofReached = true;
            return '\n';
        }
        return c;
    }

    private void lungetc(int c) {
        if (c == EOF) {
            return;
        }
        Input f = current();
        if (f.ungetPos == f.unget.length) {
            int[] bigger = new int[f.unget.length * 2];
            System.arraycopy(f.unget, 0, bigger, 0, f.ungetPos);
            f.unget = bigger;
        }
        f.unget[f.ungetPos++] = c;
    }

    static boolean isDigit(int c) {
        return c >= '0' && c <= '9';
    }

    static boolean isAlnum(int c) {
        return isDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    }

    private static boolean isPunct(int c) {
        return c > ' ' && c < 0x7f && !isAlnum(c);
    }

    private static boolean isSpace(int c) {
        return c == ' ' || (c >= '\t' && c <= '\r');
    }

    /** parse.y's allowed_to_end_number, plus ';', '#' and '{'. */
    private static boolean endsNumber(int c) {
        return isSpace(c) || c == ')' || c == ',' || c == '/' || c == '}' || c == '='
                || c == ';' || c == '#' || c == '{';
    }

    /** parse.y's allowed_in_string, less ';'. */
    private static boolean inWord(int c) {
        return isAlnum(c) || (isPunct(c) && "(){}!=#,;".indexOf(c) < 0);
    }
}
