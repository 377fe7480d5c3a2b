package org.jvmd.vmd.config;

/**
 * One lexical token of vm.conf with the file and line it started on.
 *
 * @param kind what it is
 * @param text the string's value, the keyword's word, or the character for PUNCT
 * @param number the value of a NUMBER
 * @param keyword the keyword for KEYWORD, else null
 * @param file the display name of the file the token came from
 * @param line the line the token started on (1-based)
 * @param seq the token's position in the whole token stream, to keep errors in reading order
 */
record Token(Kind kind, String text, long number, Keyword keyword, String file, int line, long seq) {

    enum Kind {
        /** A quoted string or a bare word that is not a keyword. */
        STRING,
        /** A bare decimal integer (parse.y's NUMBER). */
        NUMBER,
        KEYWORD,
        /** End of a statement: a newline, or ';'. */
        NEWLINE,
        LBRACE,
        RBRACE,
        EQUALS,
        COMMA,
        /** Any other character; never valid in the grammar. */
        PUNCT,
        /** A lexical error already reported; the rest of its line has been skipped. */
        ERROR,
        /** The end of the current file. */
        EOF
    }

    boolean is(Kind k) {
        return kind == k;
    }

    boolean is(Keyword k) {
        return kind == Kind.KEYWORD && keyword == k;
    }

    Source source() {
        return new Source(file, line);
    }
}
