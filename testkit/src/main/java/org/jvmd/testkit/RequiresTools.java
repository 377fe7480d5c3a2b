package org.jvmd.testkit;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The test or class runs these executables (e.g. {@code qemu-img}); skipped, with one loud
 * line naming the missing ones, where any is not installed. Tools the project's scripts
 * install (scripts/setup) are there in every suite run; this is for running a class alone.
 */
@Target({ElementType.TYPE, ElementType.METHOD})
@Retention(RetentionPolicy.RUNTIME)
@ExtendWith(HostCondition.class)
public @interface RequiresTools {
    String[] value();
}
