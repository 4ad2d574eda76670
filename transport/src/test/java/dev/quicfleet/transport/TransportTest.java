package dev.quicfleet.transport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.netty.channel.epoll.Epoll;
import io.netty.channel.uring.IoUring;
import io.netty.handler.codec.quic.SegmentedDatagramPacketAllocator;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

class TransportTest {

    @Test
    void bestPicksTheFirstAvailableInPreferenceOrder() {
        Transport best = Transport.best();
        Transport expected = Arrays.stream(Transport.values()).filter(Transport::isAvailable).findFirst().orElseThrow();
        assertThat(best).isEqualTo(expected);
        if (IoUring.isAvailable()) {
            assertThat(best).isEqualTo(Transport.IO_URING);
        } else if (Epoll.isAvailable()) {
            assertThat(best).isEqualTo(Transport.EPOLL);
        }
    }

    @Test
    void parseAcceptsTheDocumentedNamesAndSpellings() {
        assertThat(Transport.parse("io_uring")).isEqualTo(Transport.IO_URING);
        assertThat(Transport.parse("io-uring")).isEqualTo(Transport.IO_URING);
        assertThat(Transport.parse("IOURING")).isEqualTo(Transport.IO_URING);
        assertThat(Transport.parse("epoll")).isEqualTo(Transport.EPOLL);
        assertThat(Transport.parse(" nio ")).isEqualTo(Transport.NIO);
    }

    @Test
    void parseRejectsUnknownNamesListingTheValidOnes() {
        assertThatThrownBy(() -> Transport.parse("kqueue"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("transport: kqueue (expected: io_uring, epoll, nio)");
    }

    @Test
    void nioIsAlwaysAvailableAndHasNoGso() {
        assertThat(Transport.NIO.isAvailable()).isTrue();
        assertThat(Transport.NIO.unavailabilityCause()).isNull();
        assertThat(Transport.NIO.require()).isEqualTo(Transport.NIO);
        assertThat(Transport.NIO.gsoAllocator(16)).isSameAs(SegmentedDatagramPacketAllocator.NONE);
        assertThat(Transport.NIO.supportsGso()).isFalse();
    }

    @Test
    void nioCannotAdoptAFileDescriptorAndSaysWhichCan() {
        assertThatThrownBy(() -> Transport.NIO.adoptDatagramChannel(7))
                .isInstanceOf(UnsupportedOperationException.class)
                .hasMessageContaining("io_uring or epoll");
    }

    @Test
    void nativeTransportsOfferGsoWhenTheKernelHasIt() {
        assumeTrue(Epoll.isAvailable(), "epoll not available");
        assertThat(Transport.EPOLL.gsoAllocator(16).maxNumSegments()).isEqualTo(16);
        assertThat(Transport.EPOLL.gsoAllocator(1)).isSameAs(SegmentedDatagramPacketAllocator.NONE);
        assumeTrue(IoUring.isAvailable(), "io_uring not available");
        assertThat(Transport.IO_URING.gsoAllocator(100).maxNumSegments()).isEqualTo(64);
    }
}
