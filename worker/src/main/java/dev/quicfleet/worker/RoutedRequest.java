package dev.quicfleet.worker;

import java.io.InputStream;

/**
 * A request as the handler of a matched route sees it: the same request, with {@link #routePath()} narrowed to the
 * part below the route's prefix. Everything else is forwarded, so the protocol implementation's own behaviour (a
 * streamed body, trailers that appear once the body is read) is unchanged.
 *
 * @param delegate  the request as the worker produced it (never itself a {@code RoutedRequest})
 * @param routePath the path below the matched prefix, percent-encoded, starting with {@code /}
 */
record RoutedRequest(Request delegate, String routePath) implements Request {

    /**
     * {@code request} with {@code routePath}. A request routed before (by an enclosing router) is unwrapped first,
     * so nested routers add no layers of forwarding.
     */
    static Request of(Request request, String routePath) {
        Request original = request instanceof RoutedRequest routed ? routed.delegate : request;
        return new RoutedRequest(original, routePath);
    }

    @Override
    public String method() {
        return delegate.method();
    }

    @Override
    public String target() {
        return delegate.target();
    }

    @Override
    public String path() {
        return delegate.path();
    }

    @Override
    public String query() {
        return delegate.query();
    }

    @Override
    public String queryParam(String name) {
        return delegate.queryParam(name);
    }

    @Override
    public String authority() {
        return delegate.authority();
    }

    @Override
    public String host() {
        return delegate.host();
    }

    @Override
    public String scheme() {
        return delegate.scheme();
    }

    @Override
    public Headers headers() {
        return delegate.headers();
    }

    @Override
    public long contentLength() {
        return delegate.contentLength();
    }

    @Override
    public InputStream body() {
        return delegate.body();
    }

    @Override
    public Headers trailers() {
        return delegate.trailers();
    }

    @Override
    public ConnectionInfo connection() {
        return delegate.connection();
    }

    @Override
    public Protocol protocol() {
        return delegate.protocol();
    }
}
