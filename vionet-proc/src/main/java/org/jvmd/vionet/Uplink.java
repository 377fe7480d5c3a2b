package org.jvmd.vionet;

import org.jvmd.proto.TunCapabilities;

/** Messages the device core sends up its channel on its own (TUNSCAP). */
@FunctionalInterface
public interface Uplink {
    void tunCap(TunCapabilities caps);
}
