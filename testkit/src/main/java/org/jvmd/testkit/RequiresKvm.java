package org.jvmd.testkit;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The test or class needs a usable {@code /dev/kvm} (kvm_pvm is enough: tiny guests);
 * {@code real = true}: one that boots a stock kernel (hardware KVM or kvm-lab). Skipped,
 * with one loud line, where it is missing ({@link Host#missingKvm}).
 */
@Target({ElementType.TYPE, ElementType.METHOD})
@Retention(RetentionPolicy.RUNTIME)
@ExtendWith(HostCondition.class)
public @interface RequiresKvm {
    boolean real() default false;
}
