package org.jvmd.testkit;

import java.lang.reflect.AnnotatedElement;
import java.util.Optional;
import org.junit.jupiter.api.extension.ConditionEvaluationResult;
import org.junit.jupiter.api.extension.ExecutionCondition;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.platform.commons.support.AnnotationSupport;

/**
 * Evaluates {@link RequiresKvm}, {@link RequiresRoot} and {@link RequiresTools} on the
 * element at hand (class or method). A class that is skipped is skipped before its
 * {@code @BeforeAll} runs, so a fixture never creates (or later removes) anything for it.
 */
final class HostCondition implements ExecutionCondition {
    private static final ConditionEvaluationResult GO = ConditionEvaluationResult.enabled("host has what the test needs");

    @Override
    public ConditionEvaluationResult evaluateExecutionCondition(ExtensionContext context) {
        Optional<AnnotatedElement> element = context.getElement();
        if (element.isEmpty()) {
            return GO;
        }
        Optional<String> why = missing(element.get());
        return why.map(w -> ConditionEvaluationResult.disabled(Host.announce(context.getDisplayName().equals(name(context))
                ? name(context) : name(context) + " " + context.getDisplayName(), w))).orElse(GO);
    }

    private static String name(ExtensionContext context) {
        return context.getTestClass().map(Class::getSimpleName).orElse(context.getDisplayName());
    }

    static Optional<String> missing(AnnotatedElement e) {
        Optional<String> why = Optional.empty();
        if (AnnotationSupport.isAnnotated(e, RequiresRoot.class)) {
            why = Host.missingRoot();
        }
        if (why.isEmpty()) {
            why = AnnotationSupport.findAnnotation(e, RequiresKvm.class)
                    .flatMap(k -> k.real() ? Host.missingRealKvm() : Host.missingKvm());
        }
        if (why.isEmpty()) {
            why = AnnotationSupport.findAnnotation(e, RequiresTools.class).flatMap(t -> Host.missingTools(t.value()));
        }
        return why;
    }
}
