package dev.quicfleet.worker.tls;

import java.lang.reflect.Method;
import javax.net.ssl.SSLEngine;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Tells whether a TLS session was resumed from a ticket. Netty's BoringSSL-backed engines know
 * ({@code QuicheQuicSslEngine.isSessionReused()}, {@code ReferenceCountedOpenSslEngine.isSessionReused()}) but keep
 * the method package-private in 4.2, so it is looked up reflectively once per engine class. The JDK's own engine has
 * no such API: the answer is then {@code null} (unknown), never a guess.
 */
public final class TlsSessions {

    private static final Logger log = LoggerFactory.getLogger(TlsSessions.class);

    private static final ClassValue<Method> REUSED = new ClassValue<>() {
        @Override
        protected Method computeValue(Class<?> type) {
            for (Class<?> c = type; c != null && c != Object.class; c = c.getSuperclass()) {
                try {
                    Method method = c.getDeclaredMethod("isSessionReused");
                    method.setAccessible(true);
                    return method;
                } catch (NoSuchMethodException e) {
                    // try the superclass
                } catch (RuntimeException e) {
                    log.debug("cannot read TLS resumption state from {}", type.getName(), e);
                    return null;
                }
            }
            return null;
        }
    };

    private TlsSessions() {
    }

    /** Whether {@code engine}'s session was resumed, or {@code null} when the engine cannot tell. */
    public static Boolean resumed(SSLEngine engine) {
        if (engine == null) {
            return null;
        }
        Method method = REUSED.get(engine.getClass());
        if (method == null) {
            return null;
        }
        try {
            return (Boolean) method.invoke(engine);
        } catch (ReflectiveOperationException | RuntimeException e) {
            log.debug("cannot read TLS resumption state", e);
            return null;
        }
    }
}
