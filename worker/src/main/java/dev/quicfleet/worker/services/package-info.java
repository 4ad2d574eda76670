/**
 * The built-in services, run on the connection's event loop without a thread hop: {@link
 * dev.quicfleet.worker.services.StaticFiles} (also for users' routers) and the demo site.
 */
package dev.quicfleet.worker.services;
