package bench;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.management.ManagementFactory;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.Map;
import java.util.Random;

import javax.activation.DataHandler;
import javax.activation.DataSource;
import javax.xml.namespace.QName;
import javax.xml.ws.BindingProvider;
import javax.xml.ws.Service;
import javax.xml.ws.soap.MTOMFeature;

/**
 * Metro's JAX-WS client as a benchmark sender: one MTOM upload of SIZE bytes, the
 * attachment streamed from a DataSource (64 KiB of random bytes handed out again and
 * again) with HTTP chunked streaming (HTTP_CLIENT_STREAMING_CHUNK_SIZE), so nothing is
 * buffered whole.  The JVM's start-up is not timed: a 1 MiB upload warms the client up
 * first, then the measured call is timed on its own.  Prints one JSON line in the form
 * of benchmarks/senders.py: wall and process CPU seconds of the call, peak RSS (VmHWM)
 * before and after.
 *
 * Usage: java bench.MetroSender WSDL_URL URL SIZE CHUNK (the WSDL: benchmarks/bench.wsdl)
 */
public final class MetroSender {
    private static final String STREAMING_CHUNK_SIZE =
            "com.sun.xml.ws.transport.http.client.streaming.chunk.size";

    private MetroSender() {
    }

    public static void main(String[] args) throws Exception {
        URL wsdl = new URL(args[0]);
        String url = args[1];
        long size = Long.parseLong(args[2]);
        int chunk = Integer.parseInt(args[3]);
        byte[] block = new byte[chunk];
        new Random().nextBytes(block);

        Service service = Service.create(wsdl, new QName(Bench.NS, "BenchService"));
        Bench port = service.getPort(new QName(Bench.NS, "BenchPort"), Bench.class,
                new MTOMFeature(true, 0));
        Map<String, Object> ctx = ((BindingProvider) port).getRequestContext();
        ctx.put(BindingProvider.ENDPOINT_ADDRESS_PROPERTY, url);
        ctx.put(STREAMING_CHUNK_SIZE, chunk);

        long warm = Math.min(size, 1 << 20);
        check(port.upload("warm-up.bin", handler(block, warm)), warm);

        com.sun.management.OperatingSystemMXBean os =
                (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
        long rssBefore = vmHwmKib();
        long cpu0 = os.getProcessCpuTime();
        long t0 = System.nanoTime();
        long received = port.upload("payload.bin", handler(block, size));
        long t1 = System.nanoTime();
        long cpu1 = os.getProcessCpuTime();
        check(received, size);
        System.out.printf("{\"row\": \"metro\", \"size\": %d, \"wall\": %.6f, \"cpu\": %.6f, "
                + "\"maxrss_kib\": %d, \"rss_before_kib\": %d, \"body_bytes\": %d}%n",
                size, (t1 - t0) / 1e9, (cpu1 - cpu0) / 1e9, vmHwmKib(), rssBefore, received);
    }

    /** The receiver counts the whole body: the payload plus the MIME framing and root part. */
    private static void check(long received, long size) {
        if (received < size || received > size + 16384) {
            throw new IllegalStateException("receiver counted " + received + " bytes for a "
                    + size + "-byte payload");
        }
    }

    private static long vmHwmKib() throws IOException {
        for (String line : Files.readAllLines(Paths.get("/proc/self/status"))) {
            if (line.startsWith("VmHWM:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        throw new IllegalStateException("no VmHWM in /proc/self/status");
    }

    private static DataHandler handler(byte[] block, long size) {
        return new DataHandler(new DataSource() {
            @Override
            public InputStream getInputStream() {
                return new BlockStream(block, size);
            }

            @Override
            public OutputStream getOutputStream() {
                throw new UnsupportedOperationException();
            }

            @Override
            public String getContentType() {
                return "application/octet-stream";
            }

            @Override
            public String getName() {
                return "payload.bin";
            }
        });
    }

    /** SIZE bytes: the block again and again, copied out as a file stream would be. */
    private static final class BlockStream extends InputStream {
        private final byte[] block;
        private long left;
        private int pos;

        BlockStream(byte[] block, long size) {
            this.block = block;
            this.left = size;
        }

        @Override
        public int read() {
            byte[] one = new byte[1];
            return read(one, 0, 1) == 1 ? one[0] & 0xff : -1;
        }

        @Override
        public int read(byte[] b, int off, int len) {
            if (left <= 0) {
                return -1;
            }
            int n = (int) Math.min(Math.min(len, left), block.length - pos);
            System.arraycopy(block, pos, b, off, n);
            pos = (pos + n) % block.length;
            left -= n;
            return n;
        }
    }
}
