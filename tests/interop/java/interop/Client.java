package interop;

import java.io.InputStream;
import java.net.URL;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import javax.activation.DataHandler;
import javax.xml.namespace.QName;
import javax.xml.ws.BindingProvider;
import javax.xml.ws.Service;
import javax.xml.ws.soap.MTOMFeature;

/**
 * Metro's own JAX-WS client, MTOM enabled, calling the service through a
 * given address (a capturing proxy in the tests), so that the requests Metro
 * produces can be recorded and decoded.
 *
 * Usage: {@code java interop.Client WSDL_URL ADDRESS upload NAME SIZE}
 * | {@code uploadMany NAME SIZE...} | {@code download SIZE}.  Prints one line
 * per digest: {@code name size sha256}.
 */
public final class Client {
    private Client() {
    }

    public static void main(String[] args) throws Exception {
        URL wsdl = new URL(args[0]);
        String address = args[1];
        String op = args[2];
        Service service = Service.create(wsdl, new QName(Interop.NS, "InteropService"));
        Interop port = service.getPort(new QName(Interop.NS, "InteropPort"), Interop.class,
                new MTOMFeature(true, 0));
        Map<String, Object> ctx = ((BindingProvider) port).getRequestContext();
        ctx.put(BindingProvider.ENDPOINT_ADDRESS_PROPERTY, address);

        switch (op) {
            case "upload": {
                Digest d = port.upload(args[3], pattern(Long.parseLong(args[4])));
                print(d);
                break;
            }
            case "uploadMany": {
                List<DataHandler> parts = new ArrayList<>();
                for (int i = 4; i < args.length; i++) {
                    parts.add(pattern(Long.parseLong(args[i])));
                }
                for (Digest d : port.uploadMany(args[3], parts)) {
                    print(d);
                }
                break;
            }
            case "download": {
                DataHandler dh = port.download(Long.parseLong(args[3]));
                MessageDigest md = MessageDigest.getInstance("SHA-256");
                long size = 0;
                byte[] buf = new byte[64 * 1024];
                try (InputStream in = dh.getInputStream()) {
                    int n;
                    while ((n = in.read(buf)) != -1) {
                        md.update(buf, 0, n);
                        size += n;
                    }
                }
                System.out.println("download " + size + " " + hex(md.digest()));
                break;
            }
            default:
                throw new IllegalArgumentException("unknown operation " + op);
        }
    }

    private static DataHandler pattern(long size) {
        return new DataHandler(new InteropImpl.PatternDataSource(size));
    }

    private static void print(Digest d) {
        System.out.println(d.name + " " + d.size + " " + d.sha256);
    }

    private static String hex(byte[] bytes) {
        StringBuilder sb = new StringBuilder();
        for (byte b : bytes) {
            sb.append(String.format("%02x", b & 0xff));
        }
        return sb.toString();
    }
}
