package org.jvmd.testkit;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The class (or the one test) gets network namespaces of its own: each {@link NetNs} parameter of a test,
 * lifecycle or constructor method is a namespace the extension creates ({@code ip netns add})
 * and removes ({@code ip netns del}) when the scope that asked for it ends, whether the test
 * passed or not. A parameter of a {@code @BeforeAll} method lives as long as the class, one
 * of a test or {@code @BeforeEach} method as long as that test; within a scope, parameters of
 * the same name are the same namespace (so {@code @BeforeAll static void up(NetNs ns)} and
 * {@code @Test void t(NetNs ns)} share one), differently named ones are different namespaces.
 *
 * <p>Where namespaces cannot be made (not root, no {@code ip}) the class is skipped with the
 * one loud testkit line ({@link Host}). Addresses the tests give them come from 100.64.0.0/10.
 */
@Target({ElementType.TYPE, ElementType.METHOD})
@Retention(RetentionPolicy.RUNTIME)
@RequiresRoot
@RequiresTools("ip")
@ExtendWith(NetnsExtension.class)
public @interface NetnsTest {}
