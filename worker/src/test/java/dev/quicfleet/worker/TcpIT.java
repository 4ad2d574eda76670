package dev.quicfleet.worker;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** HTTP/1.1 and HTTP/2 over TLS on the TCP side of the same port, with the JDK's HttpClient. */
class TcpIT {

    @RegisterExtension
    static RunningWorker worker = new RunningWorker();

    private static HttpResponse<byte[]> get(HttpClient.Version version, String path) throws Exception {
        HttpClient client = TestClients.http(worker.stateDir(), version);
        return client.send(HttpRequest.newBuilder(URI.create("https://localhost:" + worker.port() + path))
                .timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofByteArray());
    }

    @ParameterizedTest
    @EnumSource(value = HttpClient.Version.class)
    void whoamiNamesTheProtocolAndAdvertisesHttp3(HttpClient.Version version) throws Exception {
        HttpResponse<byte[]> response = get(version, "/whoami");
        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.version()).isEqualTo(version);
        assertThat(response.headers().firstValue("alt-svc"))
                .hasValue("h3=\":" + worker.port() + "\"; ma=86400");
        assertThat(response.headers().firstValue("content-type")).hasValue("application/json");
        JsonNode whoami = new ObjectMapper().readTree(response.body());
        assertThat(whoami.get("protocol").asText())
                .isEqualTo(version == HttpClient.Version.HTTP_2 ? "h2" : "http/1.1");
        assertThat(whoami.get("worker").asInt()).isZero();
        assertThat(whoami.get("pid").asLong()).isEqualTo(worker.process().pid());
        assertThat(whoami.get("transport").asText()).isEqualTo(worker.process().transport());
        assertThat(whoami.get("earlyData").asBoolean()).isFalse();
    }

    @ParameterizedTest
    @EnumSource(value = HttpClient.Version.class)
    void everyTcpResponseCarriesAltSvcEvenErrors(HttpClient.Version version) throws Exception {
        HttpResponse<byte[]> missing = get(version, "/no/such/page");
        assertThat(missing.statusCode()).isEqualTo(404);
        assertThat(missing.headers().firstValue("alt-svc")).isPresent();
        HttpResponse<byte[]> health = get(version, "/healthz");
        assertThat(health.statusCode()).isEqualTo(200);
        assertThat(new String(health.body())).isEqualTo("ok\n");
        assertThat(health.headers().firstValue("alt-svc")).isPresent();
    }

    @ParameterizedTest
    @EnumSource(value = HttpClient.Version.class)
    void echoReturnsTheRequestBody(HttpClient.Version version) throws Exception {
        byte[] data = new byte[5_000_000];
        new Random(7).nextBytes(data);
        HttpClient client = TestClients.http(worker.stateDir(), version);
        HttpResponse<byte[]> response = client.send(HttpRequest.newBuilder(
                        URI.create("https://localhost:" + worker.port() + "/echo"))
                .timeout(Duration.ofSeconds(60))
                .header("content-type", "application/x-test")
                .POST(HttpRequest.BodyPublishers.ofByteArray(data)).build(), HttpResponse.BodyHandlers.ofByteArray());
        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.headers().firstValue("content-type")).hasValue("application/x-test");
        assertThat(response.body()).isEqualTo(data);
    }

    @ParameterizedTest
    @EnumSource(value = HttpClient.Version.class)
    void bytesServesExactlyTheRequestedLength(HttpClient.Version version) throws Exception {
        HttpResponse<byte[]> response = get(version, "/bytes/3000000");
        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.headers().firstValueAsLong("content-length")).hasValue(3_000_000L);
        assertThat(response.body()).hasSize(3_000_000);
        assertThat(get(version, "/bytes/2g").statusCode()).isEqualTo(400);
    }

    @ParameterizedTest
    @EnumSource(value = HttpClient.Version.class)
    void headGetsTheLengthOfGetButNoBody(HttpClient.Version version) throws Exception {
        HttpClient client = TestClients.http(worker.stateDir(), version);
        HttpResponse<byte[]> response = client.send(HttpRequest.newBuilder(
                        URI.create("https://localhost:" + worker.port() + "/bytes/12345"))
                .method("HEAD", HttpRequest.BodyPublishers.noBody()).timeout(Duration.ofSeconds(30)).build(),
                HttpResponse.BodyHandlers.ofByteArray());
        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.headers().firstValueAsLong("content-length")).hasValue(12_345L);
        assertThat(response.body()).isEmpty();
    }

    @ParameterizedTest
    @EnumSource(value = HttpClient.Version.class)
    void demoPageSaysWhichWorkerAndProtocolServedIt(HttpClient.Version version) throws Exception {
        HttpResponse<byte[]> response = get(version, "/");
        String html = new String(response.body());
        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.headers().firstValue("content-type")).hasValue("text/html; charset=utf-8");
        String protocol = version == HttpClient.Version.HTTP_2 ? "h2" : "http/1.1";
        assertThat(html).contains("<td id=\"protocol\">" + protocol + "</td>")
                .contains("<td id=\"worker\">0</td>")
                .contains("<td id=\"tlsResumed\">");
    }

    @Test
    void secondTlsConnectionFromTheSameClientIsReportedAsResumed() throws Exception {
        // One SSLContext: its client session cache offers the first connection's ticket on the second.
        javax.net.ssl.SSLContext ssl = TestClients.trusting(worker.stateDir().resolve("dev-cert.pem"));
        assertThat(whoamiOverHttp1(ssl)).contains("\"tlsResumed\" : false");
        assertThat(whoamiOverHttp1(ssl)).contains("\"tlsResumed\" : true");
    }

    private static String whoamiOverHttp1(javax.net.ssl.SSLContext ssl) throws Exception {
        try (javax.net.ssl.SSLSocket socket = (javax.net.ssl.SSLSocket) ssl.getSocketFactory()
                .createSocket("localhost", worker.port())) {
            javax.net.ssl.SSLParameters params = socket.getSSLParameters();
            params.setApplicationProtocols(new String[] {"http/1.1"});
            socket.setSSLParameters(params);
            socket.setSoTimeout(10_000);
            socket.getOutputStream().write("GET /whoami HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n"
                    .getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            return new String(socket.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        }
    }
}
