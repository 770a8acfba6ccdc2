package interop;

import java.io.File;
import java.net.InetSocketAddress;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

import javax.xml.ws.Endpoint;
import javax.xml.ws.soap.MTOMFeature;
import javax.xml.ws.soap.SOAPBinding;

import com.sun.net.httpserver.HttpServer;
import com.sun.xml.ws.developer.StreamingAttachmentFeature;

/**
 * Publishes the service with Metro on 127.0.0.1 at /soap11 (SOAP 1.1) and
 * /soap12 (SOAP 1.2), MTOM enabled on both, then prints one line
 * {@code READY <port>} and serves until it is killed or its standard input
 * closes.
 *
 * Usage: {@code java interop.Server [port]} (0, the default, picks a free port).
 */
public final class Server {
    private Server() {
    }

    public static void main(String[] args) throws Exception {
        int port = args.length > 0 ? Integer.parseInt(args[0]) : 0;
        HttpServer http = HttpServer.create(new InetSocketAddress("127.0.0.1", port), 16);
        ExecutorService pool = Executors.newCachedThreadPool();
        http.setExecutor(pool);

        // Attachments are parsed lazily (not eagerly): a part stays in the
        // socket until the service reads it, and StreamingDataHandler.readOnce
        // hands it over without a copy on disk or in memory.
        File tmp = new File(System.getProperty("java.io.tmpdir"));
        publish(http, "/soap11", SOAPBinding.SOAP11HTTP_MTOM_BINDING, tmp);
        publish(http, "/soap12", SOAPBinding.SOAP12HTTP_MTOM_BINDING, tmp);
        http.start();

        System.out.println("READY " + http.getAddress().getPort());
        System.out.flush();

        // Stop when the parent goes away (its end of our stdin closes).
        while (System.in.read() != -1) {
            // ignore input
        }
        http.stop(0);
        pool.shutdownNow();
        System.exit(0);
    }

    private static void publish(HttpServer http, String path, String binding, File tmp) {
        Endpoint endpoint = Endpoint.create(binding, new InteropImpl(),
                new MTOMFeature(true, 0),
                new StreamingAttachmentFeature(tmp.getPath(), false, 1024L * 1024L));
        endpoint.publish(http.createContext(path));
    }
}
