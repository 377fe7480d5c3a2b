package org.jvmd.it.blk;

/** {@link BlkQcow2Test} on the fallback data path: the qcow2 library on vioblk's I/O threads. */
class BlkQcow2ThreadsTest extends BlkQcow2Test {
    @Override
    String dataPath() {
        return "threads";
    }
}
