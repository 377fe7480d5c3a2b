package org.jvmd.it.sim;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.zip.CRC32;

/** Traffic with content checks between the two namespaces of a {@link NetLab}. */
final class Traffic {
    private Traffic() {}

    /**
     * One TCP connection from {@code clientNs} to {@code server} (in {@code serverNs}) that
     * carries {@code bytes} pseudo-random bytes each way at the same time; fails unless both
     * streams arrive complete and unchanged.
     */
    static void tcpBothWays(String serverNs, InetSocketAddress server, String clientNs, int bytes) throws Exception {
        ServerSocketChannel listener = NetLab.inNs(serverNs, () -> {
            ServerSocketChannel s = ServerSocketChannel.open();
            s.bind(server);
            return s;
        });
        SocketChannel client = NetLab.inNs(clientNs, SocketChannel::open);
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try (listener; client) {
            Future<SocketChannel> accepted = pool.submit(listener::accept);
            client.connect(server);
            try (SocketChannel peer = accepted.get(10, TimeUnit.SECONDS)) {
                List<Future<Long>> f = List.of(
                        pool.submit(() -> send(client, bytes, 1)),
                        pool.submit(() -> send(peer, bytes, 2)),
                        pool.submit(() -> receive(peer, bytes)),
                        pool.submit(() -> receive(client, bytes)));
                long sentUp = f.get(0).get(120, TimeUnit.SECONDS);
                long sentDown = f.get(1).get(120, TimeUnit.SECONDS);
                assertEquals(sentUp, f.get(2).get(120, TimeUnit.SECONDS), "client -> server stream differs");
                assertEquals(sentDown, f.get(3).get(120, TimeUnit.SECONDS), "server -> client stream differs");
            }
        } finally {
            pool.shutdownNow();
        }
    }

    private static long send(SocketChannel ch, int bytes, long seed) throws Exception {
        Random r = new Random(seed);
        CRC32 crc = new CRC32();
        byte[] chunk = new byte[64 * 1024];
        for (int done = 0; done < bytes; ) {
            int n = Math.min(chunk.length, bytes - done);
            r.nextBytes(chunk);
            crc.update(chunk, 0, n);
            ByteBuffer b = ByteBuffer.wrap(chunk, 0, n);
            while (b.hasRemaining()) {
                ch.write(b);
            }
            done += n;
        }
        ch.shutdownOutput();
        return crc.getValue();
    }

    private static long receive(SocketChannel ch, int bytes) throws Exception {
        CRC32 crc = new CRC32();
        ByteBuffer b = ByteBuffer.allocate(64 * 1024);
        long total = 0;
        int n;
        while ((n = ch.read(b.clear())) >= 0) {
            crc.update(b.array(), 0, n);
            total += n;
        }
        assertEquals(bytes, total, "bytes received");
        return crc.getValue();
    }

    /**
     * {@code rounds} UDP datagrams of {@code size} bytes (IP-fragmented at MTU 1500) from
     * {@code clientNs} to an echo in {@code serverNs} and back; each round is retried up
     * to three times. Fails on a changed datagram or a round that never comes back.
     */
    static void udpEcho(String serverNs, InetSocketAddress server, String clientNs, int size, int rounds)
            throws Exception {
        DatagramSocket echo = NetLab.inNs(serverNs, () -> new DatagramSocket(server));
        DatagramSocket client = NetLab.inNs(clientNs, () -> new DatagramSocket(0, anyLike(server.getAddress())));
        Thread echoer = Thread.ofPlatform().daemon().start(() -> {
            byte[] buf = new byte[65536];
            try {
                while (!echo.isClosed()) {
                    DatagramPacket p = new DatagramPacket(buf, buf.length);
                    echo.receive(p);
                    echo.send(new DatagramPacket(buf, p.getLength(), p.getSocketAddress()));
                }
            } catch (Exception e) {
                // closed
            }
        });
        try (echo; client) {
            client.setSoTimeout(1000);
            Random r = new Random(7);
            byte[] out = new byte[size];
            byte[] in = new byte[65536];
            for (int i = 0; i < rounds; i++) {
                r.nextBytes(out);
                boolean back = false;
                for (int attempt = 0; attempt < 3 && !back; attempt++) {
                    client.send(new DatagramPacket(out, size, server));
                    try {
                        DatagramPacket p = new DatagramPacket(in, in.length);
                        client.receive(p);
                        assertEquals(size, p.getLength(), "echoed datagram length");
                        assertArrayEquals(out, Arrays.copyOf(in, size), "echoed datagram content");
                        back = true;
                    } catch (SocketTimeoutException e) {
                        // lost: send again
                    }
                }
                if (!back) {
                    throw new AssertionError("datagram " + i + " of " + size + " bytes never came back");
                }
            }
        } finally {
            echoer.interrupt();
        }
    }

    private static InetAddress anyLike(InetAddress a) throws Exception {
        return InetAddress.getByName(a.getAddress().length == 4 ? "0.0.0.0" : "::");
    }
}
