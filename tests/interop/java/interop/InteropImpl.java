package interop;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.List;

import javax.activation.DataHandler;
import javax.activation.DataSource;
import javax.jws.WebService;
import javax.xml.ws.WebServiceException;

import com.sun.xml.ws.developer.StreamingDataHandler;

/**
 * The implementation.  Attachments are read once, as a stream, through
 * Metro's StreamingDataHandler, so that the service holds no copy of the
 * data: the bytes go from the socket through mimepull into the digest.
 */
@WebService(endpointInterface = "interop.Interop", targetNamespace = Interop.NS,
        serviceName = "InteropService", portName = "InteropPort")
public class InteropImpl implements Interop {

    @Override
    public Digest upload(String name, DataHandler data) {
        Digest d = digest(data);
        d.name = name;
        return d;
    }

    @Override
    public List<Digest> uploadMany(String name, List<DataHandler> data) {
        List<Digest> out = new ArrayList<>();
        if (data != null) {
            int i = 0;
            for (DataHandler dh : data) {
                Digest d = digest(dh);
                d.name = name + "[" + i++ + "]";
                out.add(d);
            }
        }
        return out;
    }

    @Override
    public DataHandler download(long size) {
        if (size < 0) {
            throw new WebServiceException("size must not be negative: " + size);
        }
        return new DataHandler(new PatternDataSource(size));
    }

    private static Digest digest(DataHandler data) {
        Digest d = new Digest();
        MessageDigest md;
        try {
            md = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new WebServiceException(e);
        }
        long size = 0;
        if (data != null) {
            d.streaming = data instanceof StreamingDataHandler;
            byte[] buf = new byte[64 * 1024];
            try (InputStream in = d.streaming
                    ? ((StreamingDataHandler) data).readOnce() : data.getInputStream()) {
                int n;
                while ((n = in.read(buf)) != -1) {
                    md.update(buf, 0, n);
                    size += n;
                }
            } catch (IOException e) {
                throw new WebServiceException("reading the attachment failed: " + e, e);
            }
            if (d.streaming) {
                try {
                    ((StreamingDataHandler) data).close();
                } catch (IOException e) {
                    throw new WebServiceException(e);
                }
            }
        }
        d.size = size;
        StringBuilder hex = new StringBuilder(64);
        for (byte b : md.digest()) {
            hex.append(String.format("%02x", b & 0xff));
        }
        d.sha256 = hex.toString();
        return d;
    }

    /** {@code size} bytes where byte {@code i} is {@code i % 251}, made as it is read. */
    static final class PatternDataSource implements DataSource {
        private final long size;

        PatternDataSource(long size) {
            this.size = size;
        }

        @Override
        public InputStream getInputStream() {
            return new PatternInputStream(size);
        }

        @Override
        public OutputStream getOutputStream() throws IOException {
            throw new IOException("read-only");
        }

        @Override
        public String getContentType() {
            return "application/octet-stream";
        }

        @Override
        public String getName() {
            return "pattern";
        }
    }

    static final class PatternInputStream extends InputStream {
        private static final byte[] CYCLE = new byte[251 * 256];

        static {
            for (int i = 0; i < CYCLE.length; i++) {
                CYCLE[i] = (byte) (i % 251);
            }
        }

        private final long size;
        private long pos;

        PatternInputStream(long size) {
            this.size = size;
        }

        @Override
        public int read() {
            if (pos >= size) {
                return -1;
            }
            return (int) (pos++ % 251);
        }

        @Override
        public int read(byte[] b, int off, int len) {
            if (pos >= size) {
                return -1;
            }
            int n = (int) Math.min(len, size - pos);
            int done = 0;
            while (done < n) {
                int start = (int) ((pos + done) % 251);
                int chunk = Math.min(n - done, CYCLE.length - start);
                System.arraycopy(CYCLE, start, b, off + done, chunk);
                done += chunk;
            }
            pos += n;
            return n;
        }
    }
}
