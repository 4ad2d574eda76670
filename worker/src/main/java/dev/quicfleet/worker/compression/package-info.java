/**
 * Response compression: {@link dev.quicfleet.worker.compression.Compression} decides which responses are compressed
 * and in which coding (the client's {@code Accept-Encoding} q-values, zstd > br > gzip at equal q), and
 * {@link dev.quicfleet.worker.compression.ResponseEncoder} compresses one body chunk by chunk with Netty's encoders
 * (docs/COMPRESSION.md). The exchange core calls both; the static files serve precompressed sidecars.
 */
package dev.quicfleet.worker.compression;
