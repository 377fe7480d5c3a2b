package org.jvmd.vionet;

import org.jvmd.proto.TunCapabilities;

/**
 * Messages the device core sends up vionet's channel to vmm-proc on its own (TUNSCAP); in
 * vmm-proc, {@code VionetProxy.TunCapRelay} takes them on to vmd.
 */
@FunctionalInterface
public interface VionetUplink {
    void tunCap(TunCapabilities caps);
}
