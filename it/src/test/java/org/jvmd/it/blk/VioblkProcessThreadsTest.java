package org.jvmd.it.blk;

/** {@link VioblkProcessTest} on the fallback data path: preadv/pwritev on vioblk's I/O threads. */
class VioblkProcessThreadsTest extends VioblkProcessTest {
    @Override
    String dataPath() {
        return "threads";
    }
}
