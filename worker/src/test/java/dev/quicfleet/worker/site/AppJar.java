package dev.quicfleet.worker.site;

import java.io.IOException;
import java.io.OutputStream;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.stream.Stream;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;

/**
 * Builds a user's app jar the way a user would: Java sources compiled with javac (javax.tools) against the
 * {@code dev.quicfleet.http} API on this test's class path, packed into a jar.
 */
public final class AppJar {

    private AppJar() {
    }

    /**
     * Compiles {@code sources} (binary class name → source) into {@code jar} (replacing it).
     *
     * @throws AssertionError with javac's output when it does not compile
     */
    public static Path build(Path jar, Map<String, String> sources) throws IOException {
        return build(jar, sources, Map.of());
    }

    /** As {@link #build(Path, Map)}, with {@code resources} (jar path → text) beside the classes. */
    public static Path build(Path jar, Map<String, String> sources, Map<String, String> resources)
            throws IOException {
        Path work = Files.createTempDirectory(jar.getParent(), "app-src-");
        Path src = work.resolve("src");
        Path classes = work.resolve("classes");
        Files.createDirectories(classes);
        List<String> args = new ArrayList<>(List.of("-d", classes.toString(), "-cp",
                System.getProperty("java.class.path"), "-proc:none"));
        for (Map.Entry<String, String> source : sources.entrySet()) {
            Path file = src.resolve(source.getKey().replace('.', '/') + ".java");
            Files.createDirectories(file.getParent());
            Files.writeString(file, source.getValue());
            args.add(file.toString());
        }
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        StringWriter output = new StringWriter();
        OutputStream errors = new OutputStream() {
            @Override
            public void write(int b) {
                output.write(b);
            }
        };
        if (javac.run(null, errors, errors, args.toArray(String[]::new)) != 0) {
            throw new AssertionError("javac failed:\n" + output);
        }
        for (Map.Entry<String, String> resource : resources.entrySet()) {
            Path file = classes.resolve(resource.getKey());
            Files.createDirectories(file.getParent());
            Files.writeString(file, resource.getValue());
        }
        Path tmp = Files.createTempFile(jar.getParent(), "app-", ".jar");
        try (JarOutputStream out = new JarOutputStream(Files.newOutputStream(tmp));
             Stream<Path> files = Files.walk(classes)) {
            for (Path file : files.filter(Files::isRegularFile).sorted().toList()) {
                out.putNextEntry(new JarEntry(classes.relativize(file).toString().replace('\\', '/')));
                out.write(Files.readAllBytes(file));
                out.closeEntry();
            }
        }
        // the jar appears whole: a worker starting meanwhile reads either the old one or the new one
        Files.move(tmp, jar, StandardCopyOption.REPLACE_EXISTING,
                StandardCopyOption.ATOMIC_MOVE);
        return jar;
    }

    /** The source of a handler {@code com.example.Site} that answers {@code text} and the route path. */
    public static Map<String, String> greeter(String text) {
        return Map.of("com.example.Site", """
                package com.example;

                import dev.quicfleet.http.Handler;
                import dev.quicfleet.http.Request;
                import dev.quicfleet.http.Response;

                public class Site implements Handler {
                    @Override
                    public void handle(Request request, Response response) throws Exception {
                        response.send(200, "text/plain", "%s at " + request.routePath() + "\\n");
                    }
                }
                """.formatted(text));
    }
}
