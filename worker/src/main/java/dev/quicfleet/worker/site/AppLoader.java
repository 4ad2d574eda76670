package dev.quicfleet.worker.site;

import dev.quicfleet.http.Handler;
import dev.quicfleet.http.Service;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.lang.reflect.Constructor;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Modifier;
import java.net.MalformedURLException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;

/**
 * Loads users' handlers from their jars ({@code app: {jar: app.jar, class: com.example.Site}}): each jar gets a class
 * loader of its own whose parent is the worker's, so the handler shares the worker's {@code dev.quicfleet.http} API
 * (and Netty's buffers) and keeps its own copies of everything else in the jar. A reload starts new worker JVMs, so a
 * changed jar is read afresh; nothing is unloaded in a running worker.
 *
 * <p>The class must be public and implement {@link Handler} (run on a virtual thread per request) or {@link Service}
 * (run on the event loop), with a public constructor without arguments. Without a class name, the jar names it as
 * the one provider in its {@code META-INF/services/dev.quicfleet.http.Handler} (or {@code .Service}) file, as for
 * {@link java.util.ServiceLoader}.
 */
public final class AppLoader implements AutoCloseable {

    private static final String SERVICES = "META-INF/services/";

    private final ClassLoader parent;
    private final Map<Path, URLClassLoader> loaders = new HashMap<>();

    /** A loader whose jars' class loaders delegate to {@code parent} (the worker's). */
    public AppLoader(ClassLoader parent) {
        this.parent = parent;
    }

    /**
     * The class of {@code app}, checked to be a handler or service that can be made, without making it (for
     * {@code check-config}).
     *
     * @param path the key path for messages ({@code sites[0].routes[1].app})
     * @throws SiteConfigException when the class is missing, not public, not a handler or service, or has no public
     *                             constructor without arguments
     */
    public Class<?> check(SiteConfig.App app, String path) {
        if (app.className() == null) {
            app = new SiteConfig.App(app.jar(), provider(app.jar(), path));
        }
        Class<?> type;
        try {
            type = Class.forName(app.className(), false, loader(app.jar(), path));
        } catch (ClassNotFoundException | NoClassDefFoundError e) {
            throw error(path + ".class", app.className() + " is not in " + app.jar() + describeCause(e),
                    "a class of the jar, by its binary name such as com.example.Site");
        } catch (LinkageError e) {
            throw error(path + ".class", app.className() + " in " + app.jar() + " cannot be loaded: " + e,
                    "a class compiled for Java " + Runtime.version().feature() + " or older");
        }
        if (!Handler.class.isAssignableFrom(type) && !Service.class.isAssignableFrom(type)) {
            throw error(path + ".class", app.className() + " in " + app.jar() + " is not a handler",
                    "a class implementing dev.quicfleet.http.Handler or dev.quicfleet.http.Service");
        }
        if (!Modifier.isPublic(type.getModifiers()) || Modifier.isAbstract(type.getModifiers())) {
            throw error(path + ".class", app.className() + " in " + app.jar() + " is not a public concrete class",
                    "a public, non-abstract class");
        }
        try {
            Constructor<?> constructor = type.getConstructor();
            if (!Modifier.isPublic(constructor.getModifiers())) {
                throw new NoSuchMethodException();
            }
        } catch (NoSuchMethodException e) {
            throw error(path + ".class", app.className() + " in " + app.jar()
                    + " has no public constructor without arguments", "public " + type.getSimpleName() + "()");
        }
        return type;
    }

    /**
     * Loads and makes the handler or service of {@code app}, as a service ({@link Service#blocking(Handler)} for a
     * handler).
     *
     * @throws SiteConfigException as {@link #check}, or when the constructor throws
     */
    public Service load(SiteConfig.App app, String path) {
        Class<?> type = check(app, path);
        app = new SiteConfig.App(app.jar(), type.getName());
        Object instance;
        try {
            instance = type.getConstructor().newInstance();
        } catch (InvocationTargetException e) {
            throw error(path + ".class", "new " + app.className() + "() threw " + e.getCause(),
                    "a constructor that succeeds");
        } catch (ReflectiveOperationException | LinkageError e) {
            throw error(path + ".class", "new " + app.className() + "() failed: " + e,
                    "a constructor that succeeds");
        }
        return instance instanceof Service service ? service : Service.blocking((Handler) instance);
    }

    /**
     * The one class {@code jar} names in {@code META-INF/services/dev.quicfleet.http.Handler} and {@code ...Service}
     * (the {@link java.util.ServiceLoader} provider files), read from this jar only: the worker's own class path has
     * none, and another app's jar must not answer for this one.
     */
    private static String provider(Path jar, String path) {
        String expected = "class: NAME, or exactly one provider in the jar's " + SERVICES + "dev.quicfleet.http.Handler"
                + " or dev.quicfleet.http.Service";
        List<String> names = new ArrayList<>();
        try (JarFile file = new JarFile(jar.toFile())) {
            for (Class<?> api : List.of(Handler.class, Service.class)) {
                JarEntry entry = file.getJarEntry(SERVICES + api.getName());
                if (entry == null) {
                    continue;
                }
                try (BufferedReader lines = new BufferedReader(new InputStreamReader(file.getInputStream(entry),
                        StandardCharsets.UTF_8))) {
                    lines.lines().map(line -> line.replaceFirst("#.*", "").strip()).filter(line -> !line.isEmpty())
                            .forEach(names::add);
                }
            }
        } catch (IOException | UncheckedIOException e) {
            throw error(path + ".jar", jar + " cannot be read as a jar: " + e.getMessage(), "a jar file");
        }
        if (names.isEmpty()) {
            throw error(path + ".class", "missing, and " + jar + " names no provider", expected);
        }
        if (names.size() > 1) {
            throw error(path + ".class", "missing, and " + jar + " names " + names.size() + " providers "
                    + String.join(", ", names), "class: NAME to pick one");
        }
        return names.getFirst();
    }

    private ClassLoader loader(Path jar, String path) {
        URLClassLoader loader = loaders.get(jar);
        if (loader == null) {
            URL url;
            try {
                url = jar.toUri().toURL();
            } catch (MalformedURLException e) {
                throw error(path + ".jar", jar.toString(), "a jar file");
            }
            loader = new URLClassLoader("app:" + jar.getFileName(), new URL[] {url}, parent);
            loaders.put(jar, loader);
        }
        return loader;
    }

    private static String describeCause(Throwable e) {
        // a class that is there but needs one that is not: name the missing one
        return e instanceof NoClassDefFoundError ? " (or needs a class that is not: " + e.getMessage() + ")" : "";
    }

    private static SiteConfigException error(String path, String value, String expected) {
        return new SiteConfigException(path + ": " + value + " (expected: " + expected + ")");
    }

    /** Closes the jars' class loaders (after the worker stopped serving). */
    @Override
    public void close() {
        for (URLClassLoader loader : loaders.values()) {
            try {
                loader.close();
            } catch (IOException e) {
                // nothing to do: the process is ending
            }
        }
        loaders.clear();
    }
}
