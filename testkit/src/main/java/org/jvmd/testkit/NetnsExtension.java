package org.jvmd.testkit;

import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolutionException;
import org.junit.jupiter.api.extension.ParameterResolver;

/**
 * Resolves {@link NetNs} parameters for {@link NetnsTest}: a namespace per parameter name
 * and scope, kept in the scope's store, which JUnit closes when the scope ends (passed,
 * failed or aborted), so the namespace goes with it. A name asked for again in an inner
 * scope (a test of a class whose {@code @BeforeAll} made it) is the outer one.
 */
final class NetnsExtension implements ParameterResolver {
    private static final ExtensionContext.Namespace STORE = ExtensionContext.Namespace.create(NetnsExtension.class);

    @Override
    public boolean supportsParameter(ParameterContext p, ExtensionContext context) {
        return p.getParameter().getType() == NetNs.class;
    }

    @Override
    public Object resolveParameter(ParameterContext p, ExtensionContext context) {
        String key = "netns:" + p.getParameter().getName();
        for (ExtensionContext c = context; c != null; c = c.getParent().orElse(null)) {
            NetNs ns = c.getStore(STORE).get(key, NetNs.class);
            if (ns != null) {
                return ns;
            }
        }
        String hint = context.getTestClass().map(Class::getSimpleName).orElse("test");
        try {
            NetNs ns = NetNs.create(hint);
            context.getStore(STORE).put(key, ns);
            return ns;
        } catch (Exception e) {
            if (e instanceof InterruptedException) {
                Thread.currentThread().interrupt();
            }
            throw new ParameterResolutionException("cannot create a network namespace for " + hint + ": " + e.getMessage(), e);
        }
    }
}
