/**
 * HTTP/3 client library and the {@code h3} / {@code h3load} command-line tools. Filled in by the client issue.
 */
package dev.quicfleet.client;
