package dev.quicfleet.worker.site;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.quicfleet.http.Handler;
import dev.quicfleet.http.Service;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Users' classes from a jar javac built here: what loads, and the one-line message for what does not. */
class AppLoaderTest {

    private static final String P = "sites[0].routes[0].app";

    @TempDir
    Path dir;

    @Test
    void handlerLoadsInAClassLoaderOfItsOwnAndRunsBlocking() throws Exception {
        Path jar = AppJar.build(dir.resolve("app.jar"), AppJar.greeter("hello"));
        try (AppLoader apps = new AppLoader(getClass().getClassLoader())) {
            Service service = apps.load(new SiteConfig.App(jar, "com.example.Site"), P);
            assertThat(service).isInstanceOf(Service.Blocking.class);
            Handler handler = ((Service.Blocking) service).handler();
            assertThat(handler.getClass().getName()).isEqualTo("com.example.Site");
            assertThat(handler.getClass().getClassLoader()).isNotSameAs(getClass().getClassLoader());
            assertThat(handler.getClass().getClassLoader().getParent()).isSameAs(getClass().getClassLoader());
        }
    }

    @Test
    void serviceIsUsedAsItIs() throws Exception {
        Path jar = AppJar.build(dir.resolve("svc.jar"), Map.of("com.example.Fast", """
                package com.example;
                public class Fast implements dev.quicfleet.http.Service {
                    public void serve(dev.quicfleet.http.HttpExchange exchange) {
                        exchange.respond(200, "text/plain", "fast");
                    }
                }
                """));
        try (AppLoader apps = new AppLoader(getClass().getClassLoader())) {
            Service service = apps.load(new SiteConfig.App(jar, "com.example.Fast"), P);
            assertThat(service.getClass().getName()).isEqualTo("com.example.Fast");
        }
    }

    @Test
    void everyWayAClassCanBeWrongIsNamed() throws Exception {
        Path jar = AppJar.build(dir.resolve("bad.jar"), Map.of(
                "com.example.NotAHandler", "package com.example; public class NotAHandler {}",
                "com.example.NoConstructor", """
                        package com.example;
                        public class NoConstructor implements dev.quicfleet.http.Handler {
                            public NoConstructor(String name) {}
                            public void handle(dev.quicfleet.http.Request q, dev.quicfleet.http.Response r) {}
                        }
                        """,
                "com.example.Hidden", """
                        package com.example;
                        class Hidden implements dev.quicfleet.http.Handler {
                            public void handle(dev.quicfleet.http.Request q, dev.quicfleet.http.Response r) {}
                        }
                        """,
                "com.example.Throws", """
                        package com.example;
                        public class Throws implements dev.quicfleet.http.Handler {
                            public Throws() { throw new IllegalStateException("no database"); }
                            public void handle(dev.quicfleet.http.Request q, dev.quicfleet.http.Response r) {}
                        }
                        """));
        try (AppLoader apps = new AppLoader(getClass().getClassLoader())) {
            assertThatThrownBy(() -> apps.check(new SiteConfig.App(jar, "com.example.Missing"), P))
                    .isInstanceOf(SiteConfigException.class)
                    .hasMessage(P + ".class: com.example.Missing is not in " + jar + " (expected: a class of the jar, "
                            + "by its binary name such as com.example.Site)");
            assertThatThrownBy(() -> apps.check(new SiteConfig.App(jar, "com.example.NotAHandler"), P))
                    .hasMessage(P + ".class: com.example.NotAHandler in " + jar + " is not a handler (expected: a "
                            + "class implementing dev.quicfleet.http.Handler or dev.quicfleet.http.Service)");
            assertThatThrownBy(() -> apps.check(new SiteConfig.App(jar, "com.example.NoConstructor"), P))
                    .hasMessage(P + ".class: com.example.NoConstructor in " + jar + " has no public constructor "
                            + "without arguments (expected: public NoConstructor())");
            assertThatThrownBy(() -> apps.check(new SiteConfig.App(jar, "com.example.Hidden"), P))
                    .hasMessage(P + ".class: com.example.Hidden in " + jar + " is not a public concrete class "
                            + "(expected: a public, non-abstract class)");
            // check does not run the constructor; load does
            assertThat(apps.check(new SiteConfig.App(jar, "com.example.Throws"), P).getName())
                    .isEqualTo("com.example.Throws");
            assertThatThrownBy(() -> apps.load(new SiteConfig.App(jar, "com.example.Throws"), P))
                    .hasMessage(P + ".class: new com.example.Throws() threw java.lang.IllegalStateException: no "
                            + "database (expected: a constructor that succeeds)");
        }
    }

    @Test
    void withoutAClassTheJarsOneServiceProviderIsLoaded() throws Exception {
        Path jar = AppJar.build(dir.resolve("provided.jar"), AppJar.greeter("provided"),
                Map.of("META-INF/services/dev.quicfleet.http.Handler", "# the site\ncom.example.Site\n"));
        try (AppLoader apps = new AppLoader(getClass().getClassLoader())) {
            Service service = apps.load(new SiteConfig.App(jar, null), P);
            assertThat(((Service.Blocking) service).handler().getClass().getName()).isEqualTo("com.example.Site");
        }
        Path none = AppJar.build(dir.resolve("none.jar"), AppJar.greeter("none"));
        Path two = AppJar.build(dir.resolve("two.jar"), AppJar.greeter("two"),
                Map.of("META-INF/services/dev.quicfleet.http.Handler", "com.example.Site\n",
                        "META-INF/services/dev.quicfleet.http.Service", "com.example.Other\n"));
        try (AppLoader apps = new AppLoader(getClass().getClassLoader())) {
            assertThatThrownBy(() -> apps.check(new SiteConfig.App(none, null), P))
                    .hasMessage(P + ".class: missing, and " + none + " names no provider (expected: class: NAME, or "
                            + "exactly one provider in the jar's META-INF/services/dev.quicfleet.http.Handler or "
                            + "dev.quicfleet.http.Service)");
            assertThatThrownBy(() -> apps.check(new SiteConfig.App(two, null), P))
                    .hasMessage(P + ".class: missing, and " + two + " names 2 providers com.example.Site, "
                            + "com.example.Other (expected: class: NAME to pick one)");
        }
    }

    @Test
    void aFileThatIsNoJarHasNoClasses() throws Exception {
        Path notAJar = Files.writeString(dir.resolve("notes.jar"), "not a zip");
        try (AppLoader apps = new AppLoader(getClass().getClassLoader())) {
            assertThatThrownBy(() -> apps.check(new SiteConfig.App(notAJar, "com.example.Site"), P))
                    .hasMessage(P + ".class: com.example.Site is not in " + notAJar + " (expected: a class of the "
                            + "jar, by its binary name such as com.example.Site)");
        }
    }
}
