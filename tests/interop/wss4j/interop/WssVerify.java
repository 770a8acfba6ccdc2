package interop;

import java.io.File;
import java.io.FileInputStream;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.List;

import javax.xml.parsers.DocumentBuilderFactory;

import org.apache.ws.security.WSConstants;
import org.apache.ws.security.WSDataRef;
import org.apache.ws.security.WSSecurityEngine;
import org.apache.ws.security.WSSecurityEngineResult;
import org.apache.ws.security.components.crypto.Merlin;
import org.w3c.dom.Document;

/**
 * Verifies the WS-Security header of a SOAP message with Apache WSS4J.
 *
 * Usage: WssVerify MESSAGE.xml CERT.pem. The message is the XOP infoset (each
 * xop:Include already replaced by the base64 of its part). The certificate is
 * the only trusted one. Prints "SIGNED {namespace}local" for each element the
 * signature covers and "VERIFIED"; any failure is an exception and exit status 1.
 */
public final class WssVerify {
    public static void main(String[] args) throws Exception {
        org.apache.xml.security.Init.init();
        DocumentBuilderFactory factory = DocumentBuilderFactory.newInstance();
        factory.setNamespaceAware(true);
        Document doc = factory.newDocumentBuilder().parse(new File(args[0]));

        X509Certificate cert;
        try (FileInputStream in = new FileInputStream(args[1])) {
            cert = (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in);
        }
        KeyStore store = KeyStore.getInstance(KeyStore.getDefaultType());
        store.load(null, null);
        store.setCertificateEntry("signer", cert);
        Merlin crypto = new Merlin();
        crypto.setKeyStore(store);
        crypto.setTrustStore(store);

        WSSecurityEngine engine = new WSSecurityEngine();
        List<WSSecurityEngineResult> results = engine.processSecurityHeader(doc, null, null, crypto);
        if (results == null) {
            throw new IllegalStateException("no wsse:Security header");
        }
        int signatures = 0;
        for (WSSecurityEngineResult result : results) {
            Object action = result.get(WSSecurityEngineResult.TAG_ACTION);
            if (action instanceof Integer && (Integer) action == WSConstants.SIGN) {
                signatures++;
                @SuppressWarnings("unchecked")
                List<WSDataRef> refs =
                    (List<WSDataRef>) result.get(WSSecurityEngineResult.TAG_DATA_REF_URIS);
                for (WSDataRef ref : refs) {
                    System.out.println("SIGNED " + ref.getName());
                }
            }
        }
        if (signatures != 1) {
            throw new IllegalStateException("expected one signature, found " + signatures);
        }
        System.out.println("VERIFIED");
    }
}
