package dev.quicfleet.client;

/**
 * The server sent GOAWAY (RFC 9114 §5.2) and this request was not processed: it was still waiting for a stream on
 * that connection, or its stream id was at or above the id the GOAWAY names. Safe to send again on a new connection,
 * whatever its method; {@link H3Client#send} does so by itself.
 */
public class H3GoAwayException extends H3Exception {

    private static final long serialVersionUID = 1L;

    private final long goAwayId;

    /** A request refused by a GOAWAY naming {@code goAwayId} as the first request stream the server will not serve. */
    public H3GoAwayException(String message, long goAwayId) {
        super(message);
        this.goAwayId = goAwayId;
    }

    /** The stream id in the server's GOAWAY: streams from it on were not processed. */
    public long goAwayId() {
        return goAwayId;
    }

    @Override
    public String kind() {
        return "goaway";
    }
}
